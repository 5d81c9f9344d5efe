/* jobwire: a repository's settings in a build job, as JSON both ways */
/* Driven by config's key table (config_int.h): a new [repo] key travels by itself. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "config_int.h"
#include "jobwire.h"

json_t *jobwire_repo_to_json(const struct repo_conf *r)
{
	struct config_repo_key k;
	json_t *o = json_object();
	size_t i, j;

	if (r->name)
		json_object_set_new(o, "name", json_string(r->name));
	for (i = 0; config_repo_key_at(i, &k) == 0; i++) {
		switch (k.store) {
		case ST_STR: {
			const char *v = *CFIELD(r, k.off, char *);

			if (v && *v)
				json_object_set_new(o, k.json, json_string(v));
			break;
		}
		case ST_STRV: {
			const struct strv *sv = CFIELD(r, k.off, struct strv);
			json_t *a = json_array();

			for (j = 0; j < sv->n; j++)
				json_array_append_new(a, json_string(sv->items[j]));
			json_object_set_new(o, k.json, a);
			break;
		}
		case ST_BOOL:
			json_object_set_new(o, k.json, json_boolean(*CFIELD(r, k.off, int)));
			break;
		case ST_STATUS:
			json_object_set_new(o, k.json,
					    json_string(config_status_names[*CFIELD(r, k.off, enum status_kind)]));
			break;
		case ST_LONG:
			json_object_set_new(o, k.json, json_integer(*CFIELD(r, k.off, long)));
			break;
		case ST_OTHER:
			abort();	/* no [repo] key has an [agent]-only type */
		}
	}
	return o;
}

int jobwire_repo_from_json(const json_t *j, struct repo_conf **ret, struct err *e)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	struct config_repo_key k;
	struct repo_conf *r;
	size_t i, n;

	if (!json_is_object(j))
		return err_set(e, "the job has no repository");
	r = config_repo_new(name && *name ? xstrdup(name) : NULL);
	for (i = 0; config_repo_key_at(i, &k) == 0; i++) {
		const json_t *v = json_object_get(j, k.json), *item;
		const char *s;

		if (!v)
			continue;
		switch (k.store) {
		case ST_STR:
			s = json_string_value(v);
			if (s && *s) {
				free(*FIELD(r, k.off, char *));
				*FIELD(r, k.off, char *) = xstrdup(s);
			}
			break;
		case ST_STRV:
			json_array_foreach(v, n, item)
				if (json_is_string(item))
					strv_push(FIELD(r, k.off, struct strv), json_string_value(item));
			break;
		case ST_BOOL:
			if (json_is_boolean(v))
				*FIELD(r, k.off, int) = json_is_true(v);
			break;
		case ST_STATUS:
			s = json_string_value(v);
			for (n = 0; s && n < sizeof(config_status_names) / sizeof(config_status_names[0]); n++)
				if (strcmp(s, config_status_names[n]) == 0)
					*FIELD(r, k.off, enum status_kind) = (enum status_kind)n;
			break;
		case ST_LONG:
			if (json_is_integer(v))
				*FIELD(r, k.off, long) = (long)json_integer_value(v);
			break;
		case ST_OTHER:
			abort();
		}
	}
	*ret = r;
	return 0;
}

static int jobwire_key(const char *name, struct config_repo_key *ret)
{
	size_t i;

	for (i = 0; config_repo_key_at(i, ret) == 0; i++)
		if (strcmp(ret->name, name) == 0)
			return 0;
	return -1;
}

int jobwire_repo_key_equal(const struct repo_conf *a, const struct repo_conf *b, const char *key)
{
	struct config_repo_key k;
	size_t i;

	if (jobwire_key(key, &k) < 0)
		return 0;
	switch (k.store) {
	case ST_STR: {
		const char *x = *CFIELD(a, k.off, char *), *y = *CFIELD(b, k.off, char *);

		return x && y ? strcmp(x, y) == 0 : x == y;
	}
	case ST_STRV: {
		const struct strv *x = CFIELD(a, k.off, struct strv), *y = CFIELD(b, k.off, struct strv);

		if (x->n != y->n)
			return 0;
		for (i = 0; i < x->n; i++)
			if (strcmp(x->items[i], y->items[i]) != 0)
				return 0;
		return 1;
	}
	case ST_BOOL:
		return *CFIELD(a, k.off, int) == *CFIELD(b, k.off, int);
	case ST_STATUS:
		return *CFIELD(a, k.off, enum status_kind) == *CFIELD(b, k.off, enum status_kind);
	case ST_LONG:
		return *CFIELD(a, k.off, long) == *CFIELD(b, k.off, long);
	case ST_OTHER:
		break;
	}
	return 0;
}
