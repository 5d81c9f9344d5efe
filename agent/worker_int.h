/* worker_int: what the worker*.c files share and nobody else sees (include from them only). */
#ifndef S2I_WORKER_INT_H
#define S2I_WORKER_INT_H

#include <stddef.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "instance.h"
#include "retain.h"
#include "store.h"
#include "worker.h"

/* Children are this executable, by the path it was started from (resolved once by
 * worker_new: under valgrind, /proc/self/exe itself would be valgrind's tool): the
 * running binary, even after an upgrade replaced the file. */
#define WORKER_SELF	"/proc/self/exe"

enum wkind { WK_BUILD, WK_STATUS, WK_CLEANUP, WK_MIRROR, WK_SWEEP };

/* WK_BUILD: `s2i-agent __build ID` (worker_build.c) */
struct wproc_build {
	long long b_id;
	char *b_repo;
	char *b_ref;
	char b_sha[41];
	long b_timeout;
	char *b_log;
	char *b_cancel_reason;		/* we asked it to stop, and why */
	int b_timed_out;
	int b_requeue;			/* the agent is stopping: back to the queue */
	json_t *b_result;
	int b_recorded;			/* its outcome is decided (and being written) */
	int b_landed;			/* ... and on disk: the slot is free once it exited too */
	int b_attempt;			/* times it was started before */
	char *b_provider;
	char *b_error;			/* why it could not start (it never ran) */
	long long b_started_ms;		/* 0 until it is running on disk */
	int b_untrusted;		/* struct build's untrusted */
	long long b_fence;		/* its lease's fencing number (shared store), else 0 */
	long long b_lease_from;		/* retain_clock_ms when the claim or renewal that
					 * last held its lease was sent */
	/* a shared store: its log is copied there (worker_ship.c) */
	int b_ship;
	long long b_log_base;		/* where this attempt's bytes start in the file */
	long long b_ship_seen;		/* the file's length at the last copy asked */
	int b_shipping;			/* a copy (WOP_LOG) is in the group commit */
};

/* WK_STATUS: `s2i-agent __status` posting one commit status row (worker_status.c) */
struct wproc_status {
	long long s_row;		/* the status row */
	long long s_claim;		/* and this agent's claim on it (store_status_claim) */
	int s_attempts;
	char *s_what;
	char *s_repo;			/* one post at a time per repository */
	char *s_forge;			/* scheme://host:port of the forge's API */
};

/* WK_CLEANUP: `s2i-agent __cleanup` removing build containers (worker_cleanup.c) */
struct wproc_cleanup {
	int c_startup;
	json_t *c_job;			/* what it removes: tried again if it fails */
};

/* WK_SWEEP: `s2i-agent __sweep` unlinking the logs retention moved into the trash
 * (worker_keep.c); nothing of its own */

/* WK_MIRROR: `s2i-agent __mirror-clean` cleaning a mirror after deleted refs
 * (worker_mirror.c) */
struct wproc_mirror {
	char *m_repo;
	size_t m_refs;			/* deleted refs it was given */
	long long m_started;		/* retain_clock_ms */
};

/* A child process of the pipeline: what every kind has, then its kind's part. */
struct wproc {
	struct worker *p_w;
	enum wkind p_kind;
	pid_t p_pid;
	int p_out;			/* our end of its stdout, -1 once closed */
	struct event *p_out_ev;		/* builds: their lines are read as they come */
	struct buf p_outbuf;
	size_t p_parsed;		/* bytes of p_outbuf already handled as lines */
	struct event *p_timer;		/* backstop: SIGKILL when it fires */
	int p_exited;
	int p_wstatus;
	int p_killed;
	struct wproc *p_next;
	union {
		struct wproc_build p_build;
		struct wproc_status p_status;
		struct wproc_cleanup p_cleanup;
		struct wproc_mirror p_mirror;
	};
};

struct wfollow;
struct wop;
struct lease_watch;

struct worker {
	struct event_base *w_base;
	struct store *w_store;
	char w_self[4096];		/* this executable (see WORKER_SELF) */
	struct http *w_http;
	struct batch *w_batch;		/* the group commit of w_http (batch.h) */
	const struct config *w_cfg;
	struct event *w_sigchld;
	struct event *w_kick;
	struct event *w_status_ev;
	/* taken-over status posts sent without the forge's list (the token cannot read
	 * it), and the repositories already warned of (worker_status.c) */
	unsigned long long w_status_unchecked;
	json_t *w_status_unread;
	struct wproc *w_procs;
	struct wfollow *w_follows;	/* log streams (worker_http.c) */
	unsigned w_running;
	int w_ready;			/* start-up cleanup finished */
	int w_stopping;
	char *w_logdir;
	/* cleanups that failed (the engine was down), tried again with backoff */
	struct event *w_cleanup_ev;
	json_t *w_cleanup_ids, *w_cleanup_containers;
	long w_cleanup_delay;
	/* io.s2i-agent.owner of this agent's build containers (instance_id): a random
	 * id kept in state_dir rather than a hash of state_dir's path, since the same path
	 * on two hosts (or in two containers) sharing one engine would collide, and a
	 * moved or re-mounted state_dir would orphan the containers of its builds */
	char w_owner[INSTANCE_ID_MAX];
	struct event *w_queued_ev;	/* handles w_new once per loop pass */
	struct build *w_new;		/* builds queued since (id, repo, ref, sha, state) */
	size_t w_nnew, w_newalloc;
	unsigned w_nops;		/* writes of ours in the group commit */
	struct wop *w_retry;		/* writes the database refused, tried again later */
	/* a shared store: the connection that hears of builds queued by any agent */
	struct store *w_listener;
	struct event *w_listen_ev, *w_listen_retry;
	struct event *w_ship_ev;	/* copies running builds' logs to it (worker_ship.c) */
	/* retention passes (worker_keep.c) */
	struct event *w_keep_ev;
	struct retain_policy *w_keep;	/* the running pass's rules, NULL between passes */
	struct retain_cursor w_keep_at;	/* the writer's while a slice is queued */
	long long w_keep_started, w_keep_ended;	/* retain_clock_ms */
	int w_keep_more;		/* the last pass stopped before its end */
	struct retain_tally w_keep_pass, w_keep_total;
	long long w_keep_passes;
	/* where builds may run (worker_fleet.c) */
	unsigned long long w_claimed;	/* builds this agent started since it started */
	long long w_unmatched_told;	/* the newest build logged as not for this agent */
	struct event *w_fleet_ev;	/* shared store: this agent announced again */
	struct strv w_fleet;		/* the labels of the agents heard of lately */
	int w_fleet_known;		/* w_fleet has been read */
	int w_keep_soon;		/* a pass asked for while one runs: another after it */
	int w_sweeping, w_sweep_again;	/* a __sweep runs; another is due after it */
	long long w_swept;		/* logs it unlinked */
	/* free space (worker_disk.c) */
	struct event *w_disk_ev;	/* held builds: the scheduler again */
	char *w_engine_root;		/* the engine's data root, NULL until known */
	long long w_disk_at, w_root_at;	/* retain_clock_ms of the last looks */
	long long w_root_wait;		/* ms until the data root is asked again */
	unsigned long long w_free_state, w_free_engine;	/* bytes, ~0: unknown */
	int w_held;			/* builds wait for free space */
	int w_hold_seen;		/* ... seen in this scheduling pass */
	int w_hold_passed;		/* a build of this pass had the space it needs */
	char w_hold[512];		/* why */
	/* leases on a shared store (worker_lease.c) */
	struct event *w_renew_ev;	/* the heartbeat */
	struct event *w_lease_ev;	/* at the earliest expiry: takeovers */
	int w_renewing;			/* a WOP_RENEW is in the group commit */
	struct lease_watch *w_watch;	/* stops builds by our own clock (worker_lease.c) */
	/* mirrors to clean after deleted refs (worker_mirror.c): repo -> [ref, ...] */
	json_t *w_mirror_due;
	struct event *w_mirror_ev;
	long long w_mirror_cleans;	/* done, and the bytes they freed */
	unsigned long long w_mirror_freed;
};

enum wop_kind {
	WOP_QUEUED,			/* new builds: queued statuses, supersede older queued ones */
	WOP_START,			/* queued -> running, before its process starts */
	WOP_PID,			/* its process */
	WOP_SHA,			/* the commit a ref resolved to */
	WOP_FINISH,			/* a started build's end (o_proc) */
	WOP_REQUEUE,			/* running -> queued (the agent stops) */
	WOP_CLOSE,			/* a build ended without running (cancel, recovery) */
	WOP_STATUS_DONE,		/* a commit status row posted (o_id: the row) */
	WOP_STATUS_RETRY,
	WOP_ADD,			/* a manual build (retry, POST /repos/NAME/builds) */
	WOP_KEEP,			/* a slice of a retention pass (worker_keep.c) */
	WOP_RENEW,			/* the heartbeat: this agent's leases renewed (worker_lease.c) */
	WOP_TAKE,			/* an expired lease's build taken over (worker_lease.c) */
	WOP_LOG,			/* a running build's new log bytes to a shared store */
	WOP_CANCEL,			/* a cancel asked of the agent running a build */
	WOP_NKINDS
};

/*
 * A write of the worker's. It goes through the intake's group commit (batch.h): the
 * writer thread runs it in the next transaction, so under a burst of deliveries the
 * worker adds no fsync of its own and never blocks the loop on the disk. What depends
 * on it happens once it is on disk: a process starts after its build is running, a
 * status is posted after its row, the next build of a repository starts after the
 * previous one's end. While queued it belongs to the writer thread (its kind's run may
 * touch only the op), else to the loop. Each kind's run, done and failed halves are
 * in worker_op.c, one after the other.
 */
struct wop {
	struct worker *o_w;
	enum wop_kind o_kind;
	long long o_id;			/* the build (the status row for WOP_STATUS_*) */
	struct wproc *o_proc;		/* START, FINISH, REQUEUE, STATUS_*: loop only */
	struct evhttp_request *o_req;	/* CLOSE, ADD: the request, answered once on disk */
	struct build o_build;		/* ADD: the build to queue (id set once on disk) */
	enum build_state o_state;	/* FINISH, CLOSE */
	char *o_reason;			/* FINISH, CLOSE, REQUEUE; STATUS_RETRY: the error */
	char *o_image, *o_image_id;
	long long o_time;		/* START: its start; FINISH, CLOSE: its end; STATUS_RETRY: next_at;
					 * ADD: retried id */
	long long o_pid;
	long long o_claim;		/* STATUS_*: the claim on the row */
	char o_sha[41];
	char *o_log;			/* the build log, and a line for it written before */
	char *o_line;			/* the COMMIT (once), when the state changed or */
	int o_line_always;		/* always */
	int o_logged;
	int o_ship;			/* FINISH, REQUEUE, LOG: copy the log to a shared store */
	int o_attempt;			/* ... of this attempt, */
	long long o_log_base;		/* whose bytes start here in o_log */
	int o_more;			/* LOG (out): more was left to copy */
	const char *o_st_state;		/* a commit status queued with the change */
	char *o_st_desc;
	char *o_st_queued;		/* SHA, START (a fleet): a queued status before it */
	/* WOP_QUEUED: new builds of one repository and ref, oldest first */
	char *o_repo, *o_ref;
	long long *o_ids;
	char **o_descs;			/* their queued statuses (NULL: none) */
	size_t o_n;
	int o_supersede;		/* cancel the queued builds older than the newest */
	int o_status_on;		/* with statuses */
	long long *o_canceled;		/* out */
	size_t o_ncanceled;
	struct retain_tally o_keep;	/* KEEP: what the slice freed (out) */
	int o_rc;			/* out: 1 when nothing changed */
	long long o_fence;		/* > 0: the write carries this fencing number (the
					 * build's lease); START: out, the claim's */
	int o_fenced;			/* out: refused, the build was taken over */
	/* RENEW: the builds whose lease it renews (o_ids, o_fences), out which are held */
	long long *o_fences;
	int *o_held;
	int o_tries;			/* failed so far */
	long long o_sent;		/* retain_clock_ms when it was made (START, RENEW: a
					 * lease held from then on) */
	struct event *o_retry;
	struct wop *o_next;		/* in w_retry */
};

/* worker.c: life cycle, process table, scheduling */
char *worker_log_path(const struct worker *w, long long id);
/* Appends a line to a build log (creating it); -1 with errno. Thread-safe. */
int worker_append_line(const char *path, const char *text);
/* Appends one line of the agent's own to a build log (creating it). */
void worker_log_line(const struct worker *w, long long id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Sets k to v in o unless v is NULL or empty. */
void worker_set_str(json_t *o, const char *k, const char *v);
const struct repo_conf *worker_repo(const struct worker *w, const char *name);
/* A child of kind, in w_procs; its process starts with worker_proc_start. */
struct wproc *worker_proc_new(struct worker *w, enum wkind kind);
/* Starts `s2i-agent NAME ARG` for p with job on stdin, stdout to us, stderr to errfd. */
int worker_proc_start(struct wproc *p, const char *name, const char *arg, json_t *job,
		      int errfd, long timeout_s, struct err *e);
/* A child process of kind in w_procs, or NULL (nothing left behind). */
struct wproc *worker_spawn(struct worker *w, enum wkind kind, const char *name,
			   const char *arg, json_t *job, int errfd, long timeout_s,
			   struct err *e);
void worker_proc_unlink(struct wproc *p);
void worker_proc_free(struct wproc *p);
/* The process group of p (it leads its own), and p itself if setpgid lost a race. */
void worker_proc_signal(struct wproc *p, int sig);
/* Runs the scheduler in this loop pass. */
void worker_kick(struct worker *w);
/* worker_listen.c: on a shared store, runs the scheduler when any agent queues a
 * build (nothing on SQLite); -1 when its timer cannot be made. */
int worker_listen_start(struct worker *w);
void worker_listen_free(struct worker *w);
/* A build was committed as queued (http_queued_fn). */
void worker_queued(void *ctx, const struct build *b);
/* A request's builds are to be canceled (http_closed_fn). */
void worker_closed(void *ctx, const char *repo, const char *ref, const char *reason);

/* worker_keep.c: a __sweep ended */
void worker_keep_swept(struct wproc *p);

/* worker_mirror.c: a push deleted ref of repo (http_deleted_fn): the mirror is cleaned
 * WORKER_MIRROR_DELAY_MS later, once no build of repo runs */
void worker_ref_deleted(void *ctx, const char *repo, const char *ref);
int worker_mirror_start(struct worker *w);
void worker_mirror_done(struct wproc *p);
void worker_mirror_release(struct wproc_mirror *m);
void worker_mirror_free(struct worker *w);
/* its /metrics lines */
void worker_mirror_metrics(const struct worker *w, struct buf *o);

/* worker_build.c: a build's process from its start to its recorded end */
struct wproc *worker_find_build(const struct worker *w, long long id);
int worker_repo_busy(const struct worker *w, const char *repo);
/* Takes a worker slot for queued build b: it is marked running on disk, then its
 * process starts. */
void worker_build_start(struct worker *w, const struct build *b);
/* WOP_START on disk (rc 1: the build was no longer queued). */
void worker_build_started(struct wproc *p, int rc);
/* Frees p's slot once its process is gone and its end is on disk. */
void worker_build_final(struct wproc *p);
/* A line the build process printed. */
void worker_build_line(struct wproc *p, const char *line);
/* The build's process exited (or never started). */
void worker_build_exited(struct wproc *p);
void worker_build_release(struct wproc_build *b);
void worker_cancel_proc(struct wproc *p, const char *reason);
/* Closes a build that never ran (a cancel by request, start-up recovery): its end
 * goes through the group commit; req, if any, is answered once it is on disk. */
void worker_close_build(struct worker *w, const struct build *b, enum build_state state,
			const char *reason, struct evhttp_request *req);

/* worker_op.c: the writes, through the group commit */
struct wop *worker_op_new(enum wop_kind kind, long long id);
void worker_op_free(struct wop *o);
void worker_op_submit(struct worker *w, struct wop *o);
/* The two halves batch calls (batch_op_fn on the writer thread, batch_op_done_fn on
 * the loop), dispatching to the op's kind. */
int worker_op_run(struct store *st, void *arg, struct err *e);
void worker_op_done(void *arg, int failed, const char *err);

/* worker_status.c: commit statuses, queued with the writes and posted by children */
/* 1 when builds of repo get commit statuses. */
int worker_status_on(const struct worker *w, const char *repo);
/* ... and the build at sha does (it has a commit). */
int worker_status_want(const struct worker *w, const char *repo, const char *sha);
/* The description of a commit status for build id in state. Pure: the writer thread
 * calls it too. */
char *worker_status_desc(long long id, enum build_state state, const char *reason,
			 long long duration_ms);
/* Queues the status for state with the op's change (if the repository posts any). */
void worker_op_status(const struct worker *w, struct wop *o, const char *repo,
		      const char *sha, enum build_state state, const char *reason,
		      long long duration_ms);
/* A status process exited: its outcome is written (WOP_STATUS_*). */
void worker_status_done(struct wproc *p);
void worker_status_release(struct wproc_status *s);
/* Posts due statuses after delay_ms (a wake-up already armed for earlier stays). */
void worker_status_kick(struct worker *w, long long delay_ms);
void worker_status_cb(evutil_socket_t fd, short what, void *arg);
/* its /metrics lines, and what it keeps */
void worker_status_metrics(const struct worker *w, struct buf *o);
void worker_status_free(struct worker *w);

/* worker_cleanup.c: removing the containers builds left, with backoff */
/* Removes the containers of builds ids (by label) and the containers named; takes
 * both arrays. */
void worker_cleanup_spawn(struct worker *w, json_t *ids, json_t *containers, int startup);
void worker_cleanup_start(struct worker *w, const long long *ids, size_t n, int startup);
/* Adds to *into (created if NULL) what from has and it does not. */
void worker_cleanup_merge(json_t **into, json_t *from);
/* Writes what is still to remove to state_dir (WORKER_CLEANUP_FILE). */
void worker_cleanup_save(const struct worker *w);
/* Records what job (its "ids" and "containers") was to remove. */
void worker_cleanup_keep(struct worker *w, json_t *job);
/* A build succeeded: the engine answers again, retry a pending cleanup now. */
void worker_cleanup_now(struct worker *w);
/* A cleanup process exited. */
void worker_cleanup_done(struct wproc *p);
void worker_cleanup_release(struct wproc_cleanup *c);
void worker_cleanup_retry_cb(evutil_socket_t fd, short what, void *arg);

/* worker_http.c: the HTTP endpoints of the pipeline */
/* Registers the log, cancel, retry and manual build handlers with w_http. */
void worker_http_hook(struct worker *w);
/* Ends (end = 1: with the last chunk sent) or drops every log stream. */
void worker_follow_end_all(struct worker *w, int end);
/* The streams of build id's log look now rather than at their next poll: more of it
 * is in a shared store, or its outcome is on disk (the stream ends once it sent the
 * log's last bytes). */
void worker_follow_wake(struct worker *w, long long id);
/* Answers 202 with the build's URL. */
void worker_reply_queued(struct worker *w, struct evhttp_request *req, long long id);

/* worker_keep.c: retention passes, one at start, after builds, on a timer */
int worker_keep_start(struct worker *w);
/* A build ended: a pass, unless one ran within RETAIN_GAP_MS. */
void worker_keep_kick(struct worker *w);
void worker_keep_free(struct worker *w);
/* A pass now (free space is short), or right after the running one. */
void worker_keep_now(struct worker *w);
/* WOP_KEEP's halves (worker_op.c's table) */
int worker_keep_run(struct store *st, struct wop *o, struct err *e);
void worker_keep_done(struct worker *w, struct wop *o);
int worker_keep_failed(struct worker *w, struct wop *o, const char *err);

/* worker_ship.c: a build's log and cancel on a shared store */
int worker_ship_start(struct worker *w);
void worker_ship_free(struct worker *w);
/* Copies the log of the build p is starting to a shared store from now on. */
void worker_ship_begin(struct wproc *p);
/* In a few ms: the running builds' new log bytes to a shared store. */
void worker_ship_arm(struct worker *w);
/* Has o (FINISH, REQUEUE, LOG) copy wb's log. */
void worker_ship_op(const struct wproc_build *wb, struct wop *o);
/* Writer thread: copies o's log past what the store has, at most max bytes (0: all). */
int worker_ship(struct store *st, struct wop *o, size_t max, struct err *e);
/* store_heard_fn of worker_listen.c: a log grew or a build ended, a cancel asked. */
void worker_heard(void *arg, enum store_heard what, long long id);
/* The cancels asked of this agent's builds while nobody listened. */
void worker_cancel_sweep(struct worker *w);
/* Asks the agent running build id to stop it; req answered once on disk. */
void worker_cancel_ask(struct worker *w, long long id, struct evhttp_request *req);
/* WOP_LOG's and WOP_CANCEL's halves (worker_op.c's table) */
int worker_ship_run(struct store *st, struct wop *o, struct err *e);
void worker_ship_done(struct worker *w, struct wop *o);
int worker_ship_failed(struct worker *w, struct wop *o, const char *err);
int worker_cancel_run(struct store *st, struct wop *o, struct err *e);
void worker_cancel_done(struct worker *w, struct wop *o);
int worker_cancel_failed(struct worker *w, struct wop *o, const char *err);

/* worker_disk.c: free space watermarks, the pipeline's /healthz and /metrics */
int worker_disk_start(struct worker *w);
void worker_disk_free_all(struct worker *w);
/* 1 when a build of repo must wait for free space (w_hold says why; a retention
 * pass starts, the scheduler runs again after DISK_RECHECK_MS), else 0. */
int worker_disk_hold(struct worker *w, const char *repo);
/* After a scheduling pass that looked at every queued build. */
void worker_disk_settle(struct worker *w);
int worker_disk_health(void *ctx, struct err *e);
void worker_metrics(void *ctx, struct buf *o);

/* worker_fleet.c: where builds may run ([agent] labels, [repo] run_on) and this
 * agent's share of the queue */
/* 1 when this agent may run b (its repository's run_on holds no label this agent
 * lacks); else 0, said once in the log per build. */
int worker_fleet_may_run(struct worker *w, const struct build *b);
/* The /metrics lines of this agent's share: claimed, running, queued for it or not,
 * and the queued builds no agent heard of lately has the labels for. */
void worker_fleet_metrics(struct worker *w, struct buf *o);
/* On a shared store: this agent and its labels recorded every WORKER_FLEET_SEEN_MS,
 * and the other agents' read back. */
int worker_fleet_start(struct worker *w);
void worker_fleet_free(struct worker *w);

/* worker_lease.c: leases, heartbeat and takeover on a shared store (nothing on SQLite) */
int worker_lease_start(struct worker *w);
void worker_lease_free(struct worker *w);
/* Takes over the builds whose lease ran out, and sets the timer to the next expiry. */
void worker_lease_scan(struct worker *w);
/* Takes b over (at b->fence): queued again, or errored after WORKER_ATTEMPTS_MAX
 * starts, through the group commit. */
void worker_lease_take(struct worker *w, const struct build *b, const char *reason);
/* A build of ours whose process runs under a lease held since from (retain_clock_ms):
 * stopped by this agent's own clock once no renewal landed before it runs out, even
 * while the loop waits on an unreachable database. Again with a later from: renewed. */
void worker_lease_watch(struct worker *w, long long id, pid_t pid, long long from);
/* The build's outcome is about to be decided: no longer watched. 1 when its lease ran
 * out here first: the build is stopped and nothing of it may be recorded (it is marked
 * so, and logged), else 0. */
int worker_lease_unwatch(struct wproc *p);
/* WOP_RENEW's and WOP_TAKE's halves (worker_op.c's table) */
int worker_renew_run(struct store *st, struct wop *o, struct err *e);
void worker_renew_done(struct worker *w, struct wop *o);
int worker_renew_failed(struct worker *w, struct wop *o, const char *err);
int worker_take_run(struct store *st, struct wop *o, struct err *e);
void worker_take_done(struct worker *w, struct wop *o);
int worker_take_failed(struct worker *w, struct wop *o, const char *err);

/* worker_recover.c: builds a crash left running */
void worker_recover(struct worker *w);

#endif
