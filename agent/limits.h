/* limits: every limit, default and timeout of s2i-agent, in one place.
 * Each is enforced where it is used; tests refer to these names. */
#ifndef S2I_LIMITS_H
#define S2I_LIMITS_H

#define S2I_AGENT_VERSION	"0.1.0"

/* errors and logs */
#define ERR_MSG_MAX		1024
#define LOG_LINE_MAX		2048
#define LOG_HOLD_MAX		4096		/* held log lines per write: PIPE_BUF, atomic on a pipe */

/* configuration */
#define CONFIG_DEFAULT_PATH	"/etc/s2i-agent/agent.conf"
#define CONFIG_ENV		"S2I_AGENT_CONFIG"
#define CONFIG_DEFAULT_LISTEN	"127.0.0.1:8080"
#define CONFIG_DEFAULT_STATE	"/var/lib/s2i-agent"
#define CONFIG_DEFAULT_ENGINE	"unix:///var/run/docker.sock"
#define CONFIG_DEFAULT_WORKERS	2
#define CONFIG_MAX_WORKERS	64
#define CONFIG_DEFAULT_TIMEOUT	(30 * 60)	/* seconds */
#define CONFIG_DEFAULT_MAX_BODY	(25u * 1024 * 1024)
#define CONFIG_MAX_REPOS	1024
#define CONFIG_MAX_VALUES	256		/* repeatable keys per repo */
#define SECRET_FILE_MAX		4096		/* bytes read from a secret file */
#define SECRETS_PER_REPO	2		/* current + previous, for rotation */
#define SECRET_MIN_LEN		16		/* characters of a webhook secret or admin token:
						 * `openssl rand -hex 16` gives 32 */
#define REPO_NAME_MAX		100
#define CONFIG_COUNT_MAX	1000000000L	/* whole-number keys (queue_max) */
#define CONFIG_FILE_MAX		(1024 * 1024)	/* bytes of agent.conf */
#define CONFIG_LINE_MAX		4096		/* bytes of one line of agent.conf */
#define CONFIG_VALUE_MAX	2048		/* bytes of one value */
#define CONFIG_KEY_NAME_MAX	64		/* bytes of a key name compared for "did you mean" */
#define CONFIG_SUGGEST_MAX_DISTANCE 2		/* edits from an unknown key to the one suggested */
#define CONFIG_DEFAULT_TAG	"{repo}:{branch}"	/* image name template */
#define CONFIG_DEFAULT_PR_TAG	"{repo}:pr-{pr}"	/* the same for pull/merge requests */
#define CONFIG_DEFAULT_CONTEXT	"s2i-agent"	/* commit status context */
#define CONFIG_DEFAULT_GITHUB_API "https://api.github.com"
/* retention defaults (keep_builds, keep_days): a repository building a few times an
 * hour keeps about a week of history, and 50 logs at their typical size of a few
 * hundred KiB; 0 turns a rule off */
#define CONFIG_DEFAULT_KEEP_BUILDS 50
#define CONFIG_DEFAULT_KEEP_DAYS 30
/* min_free_space: below it on state_dir or the engine's data root, builds wait */
#define CONFIG_DEFAULT_MIN_FREE	(1024L * 1024 * 1024)
/* lease (shared store): how long a running build stays this agent's without a
 * heartbeat, in seconds; renewed every third of it (worker_lease.c) */
#define CONFIG_DEFAULT_LEASE	60
#define CONFIG_LEASE_MIN	2
#define CONFIG_LEASE_MAX	3600

/* HTTP intake */
#define HTTP_HEADER_MAX		(16 * 1024)
#define HTTP_TIMEOUT		30		/* seconds, read/write of one request */
#define HTTP_MAX_CONNECTIONS	4096
#define HTTP_REQUEST_DEADLINE	30		/* seconds: a whole request, however slowly it trickles */
#define HTTP_SWEEP_SECONDS	1		/* how often the request deadline is checked */
#define HTTP_CONN_BUCKETS	1024		/* connection lookup table */
/* request bodies declared by all connections together (at least max_body): a request
 * whose Content-Length does not fit gets 503 + Retry-After before a byte of it is read */
#define HTTP_BODY_TOTAL_MAX	(48u * 1024 * 1024)
#define HTTP_HEAD_FIELDS_MAX	100		/* header fields of one request */
#define HTTP_LINGER_SECONDS	2		/* after an early answer: the client's body is drained */
#define HTTP_TRIM_AFTER		64		/* malloc_trim once connections fell from this many ... */
#define HTTP_TRIM_BELOW		4		/* ... to this many */
#define HTTP_DENY_LOG_BURST	10		/* refused (401) requests logged per window ... */
#define HTTP_DENY_LOG_SECONDS	60		/* ... of this many seconds; the rest are counted */
#define QUEUE_MAX		10000		/* queued builds before intake answers 503 */
#define RETRY_AFTER_SECONDS	30
#define WEBHOOK_TIMESTAMP_SKEW	300		/* GitLab signing token: seconds */
#define DELIVERY_ID_MAX		200
#define REF_MAX			1024
/* webhook parsing */
#define WEBHOOK_EVENT_NAME_MAX	64		/* X-GitHub-Event and friends */
#define WEBHOOK_MESSAGE_MAX	4096		/* commit message kept from a payload */
#define WEBHOOK_FIELD_MAX	512		/* author, repo name, clone url kept */
#define WEBHOOK_PR_MAX		99999999999LL	/* the largest pull/merge request number */
#define BUILDS_LIST_DEFAULT	50
#define BUILDS_LIST_MAX		1000
#define STORE_REPOS_MAX		1000		/* repositories counted by store_queued_repos */
#define STORE_AGENTS_MAX	1000		/* agents store_agents reads */

/* store (daemon): SQLite */
#define STORE_BUSY_TIMEOUT_MS	5000		/* another process holding the write lock */
#define STORE_CACHE_KIB		"-1024"		/* page cache: negative = KiB (keeps RSS small) */
#define STORE_CHECKPOINT_PAGES	1000		/* WAL frames that wake the checkpoint thread */
#define STORE_WAL_MAX_PAGES	16000		/* WAL frames at which the writer checkpoints itself */
/* PostgreSQL (store_pg.c), unless the URL sets them: a server out of reach fails a
 * connection attempt, or a statement on an open connection, within these
 * (the daemon answers 503 meanwhile) */
#define STORE_PG_CONNECT_TIMEOUT "5"		/* seconds */
#define STORE_PG_TCP_TIMEOUT	"10000"		/* ms: tcp_user_timeout */
#define STORE_PG_ANSWER_MS	10000LL		/* a statement's answer (store_pg.c pg_await) */
/* a build's log on a shared store (store_log_*): the log file's cap, and room for
 * the agent's own lines after the build process reached it (its outcome) */
#define STORE_LOG_MAX		((long long)BUILD_LOG_MAX + 64 * 1024)
#define STORE_LOG_CHUNK_MAX	(256 * 1024)	/* bytes of one chunk (a row) */
#define STORE_LOG_READ_ROWS	256		/* chunks one read asks for */
#define BATCH_CKPT_NICE		10		/* the checkpoint thread's nice value */
/* ms: on a shared store (PostgreSQL) the builds per state, for queue_max and
 * /metrics, are counted by the writer thread at most this often (and at least,
 * when idle): the event loop never waits on the database for them */
#define BATCH_COUNTS_MS		500
/* replay guard: the digest of a push's signed material is kept this long per repo
 * (far longer than build history: a captured delivery stays worth replaying for
 * as long as its commit is older than the branch's), and rows past it are pruned
 * from the writer's transaction at most every REPLAY_PRUNE_INTERVAL_MS, at most
 * REPLAY_PRUNE_ROWS at a time */
#define REPLAY_KEEP_DAYS	400
#define REPLAY_PRUNE_INTERVAL_MS (60LL * 60 * 1000)
#define REPLAY_PRUNE_ROWS	10000

/* http (daemon) */
#define HTTP_FD_RESERVE		256		/* fds kept for the database, logs and builds */
#define HTTP_BATCH_MAX		512		/* deliveries committed in one transaction */
#define HTTP_DRAIN_SECONDS	10		/* SIGTERM: time to finish answering */
#define HTTP_ENGINE_CHECK_MS	500		/* /healthz engine probe: connect timeout */
#define HTTP_ENGINE_CACHE_SECONDS 5		/* /healthz engine probe: result reused */
#define HTTP_ENGINE_INFO_MAX	(256 * 1024)	/* bytes of the engine's /info answer read */
#define HTTP_TOKEN_MAX		4096		/* Authorization header */
#define HTTP_REFUSALS_KEPT	50		/* refused deliveries the dashboard lists */
#define HTTP_REFUSAL_REASON_MAX	160		/* bytes of a refusal's reason kept */
#define HTTP_REFUSAL_LOGS_PER_MINUTE 10		/* log lines for deliveries to unknown repositories */
#define JPRUNE_DEPTH_MAX	512		/* JSON nesting intake accepts */

/* builds */
#define BUILD_LOG_MAX		(64u * 1024 * 1024)	/* bytes kept per build log */
#define TAR_ENTRY_MAX		(4ull * 1024 * 1024 * 1024)	/* one file from a container */
#define TAR_TOTAL_MAX		(16ull * 1024 * 1024 * 1024)	/* one tar from a container */
#define TAR_ENTRIES_MAX		1000000
#define METADATA_MAX		(1024 * 1024)	/* image_metadata.json */
#define ENGINE_RESPONSE_MAX	(16 * 1024 * 1024)	/* JSON answers from the engine */
#define ENGINE_CONNECT_TIMEOUT	10		/* seconds */
/* seconds the engine has to answer one call (engine_set_timeouts), so that a frozen
 * engine (its socket accepts, nothing answers) ends a build or a CLI run with a reason
 * long before build_timeout: control calls (ping, version, inspect, create, start,
 * kill, list, tag) take well under a second on a healthy engine, a few under load;
 * calls that copy or delete a layer (commit, image and container removal) take as
 * long as the layer is big; streams (pull, push, import, archive copies) may take
 * hours, but not this long without a byte. Waits for a running container (wait,
 * attach, logs follow) have no limit of their own: the build's timeout bounds them. */
#define ENGINE_CALL_TIMEOUT	60
#define ENGINE_SLOW_CALL_TIMEOUT (10 * 60)
#define ENGINE_IDLE_TIMEOUT	(5 * 60)
/* seconds without a byte while a container runs (wait, attach, logs follow) before the
 * engine is pinged on another connection; no answer within ENGINE_CALL_TIMEOUT: frozen */
#define ENGINE_PROBE_INTERVAL	60
/* a stream bound to a container (attach, logs that follow) silent this long asks
 * whether its container has ended, again after twice the silence each time (up to
 * ENGINE_PROBE_INTERVAL); found ended twice, ENGINE_ENDED_GRACE_MS of silence apart,
 * the stream is complete. Podman 4.3 can leave a logs follow open forever after its
 * container exited: it waits for a "died" event it subscribed to too late. */
#define ENGINE_ENDED_CHECK_MS	1000
#define ENGINE_ENDED_GRACE_MS	2000
/* Podman: ms a wait gives the engine's cleanup of an exited container (conmon's
 * `podman container cleanup` unmounts its root filesystem) to finish, polled every
 * ENGINE_SETTLE_POLL_MS, before the container's files are read or written */
#define ENGINE_SETTLE_MS	10000
#define ENGINE_SETTLE_POLL_MS	10

/* engine: the Engine API versions we speak (used: min(ours, the server's), never below
 * the server's MinAPIVersion; 1.51 is Docker 28.5, the newest engine the tests run),
 * and the bytes a pull-style stream holds between two reads */
#define ENGINE_API_MAX		"1.51"
#define ENGINE_API_MIN		"1.24"
#define ENGINE_CHECK_INTERVAL	60		/* seconds /healthz reuses a compatible version verdict */
#define ENGINE_CHECK_TIMEOUT	2		/* seconds `check` waits for the engine's /version */
#define ENGINE_CRED_TIMEOUT	10		/* seconds a docker-credential-NAME get may take */
#define ENGINE_CRED_OUTPUT_MAX	(64 * 1024)	/* bytes it may print */
#define ENGINE_CRED_NAME_MAX	64		/* the NAME of credsStore, credHelpers */
#define ENGINE_STREAM_BUFFER	(64 * 1024)
#define ENGINE_PATH_MAX		(64 * 1024)	/* a request path and query (names are <= 512 bytes; import changes) */
#define ENGINE_COMMIT_URL_MAX	(1024 * 1024)	/* podman: labels/env go in the query */

/* tarx: read size, and what a pull-style filter may hold (one data block plus
 * libarchive's 10 KiB records) */
#define TAR_IO_BLOCK		(64 * 1024)
#define TAR_FILTER_BUFFER_MAX	(4 * 1024 * 1024)
#define KILL_GRACE_SECONDS	10

/* s2i builds (s2i.c, s2iparse.c, cmd_build.c) */
#define UID_MAX_VALUE		4294967294ul	/* largest uid --allowed-uids accepts */
#define S2I_ENV_FILE_MAX	(1024 * 1024)	/* .s2i/environment and -E files */
#define S2I_DOCKERFILE_MAX	(1024 * 1024)	/* bytes of an --as-dockerfile Dockerfile */
#define S2I_DOCKERFILE_CONTEXT_MAX (16ULL << 30) /* bytes of its context on disk */
#define S2I_SECRETS_DIR		"/run/secrets"	/* --build-secret NAME: S2I_SECRETS_DIR/NAME */
#define S2I_SECRET_NAME_MAX	128		/* characters of a build secret's NAME */
#define S2I_SECRET_FILE_MAX	(1024 * 1024)	/* bytes of one build secret */
#define S2I_SCRIPT_MAX		(4 * 1024 * 1024)	/* one script from file:// or http(s):// */
#define S2I_PASSWD_MAX		(1024 * 1024)	/* /etc/passwd, /etc/group read from an image */
#define S2I_LABELS_MAX		(256 * 1024)	/* all labels of the output image, keys + values */
#define S2I_HTTP_TIMEOUT	60		/* seconds: a script download, a callback POST */
/* seconds: removing a build's containers at its end; within the daemon's grace, so a
 * build whose engine hangs still reports (and lists what it could not remove) */
#define S2I_CLEANUP_TIMEOUT	(KILL_GRACE_SECONDS - 2)
/* seconds: the CLI's cleanup after its result (s2i_cleanup_detach), retries included */
#define S2I_CLEANUP_DETACHED_TIMEOUT	60
#define S2I_DEFAULT_DESTINATION	"/tmp"
#define S2I_CALLBACK_BODY_MAX	(1024 * 1024)

/* worker (daemon): build, status and cleanup processes; build logs */
#define WORKER_JOB_MAX		(4 * 1024 * 1024)	/* job JSON a child reads on stdin */
#define WORKER_RESULT_MAX	(64 * 1024)	/* JSON lines a child answers on stdout */
#define WORKER_ATTEMPTS_MAX	2		/* a build a crash left running is rerun until started this often */
#define WORKER_SCAN_MAX		1000		/* queued builds looked at per scheduling pass */
#define WORKER_BODY_MAX		(64 * 1024)	/* body of POST /repos/{repo}/builds */
#define WORKER_CLEANUP_TIMEOUT	120		/* seconds for a container cleanup process */
#define RUNNER_CLEANUP_DEADLINE	(WORKER_CLEANUP_TIMEOUT - KILL_GRACE_SECONDS)	/* its engine calls */
#define WORKER_CLEANUP_RETRY_MAX 300		/* seconds: longest wait before removing containers again */
#define WORKER_CLEANUP_FILE	"cleanup.json"	/* in state_dir: containers still to remove */
/* a push that deletes a ref: the repository's mirror is cleaned (its copy of the ref
 * deleted, what no ref reaches pruned) this long after, more deletions meanwhile
 * joining it, and once no build of the repository runs; the process is killed after
 * WORKER_MIRROR_TIMEOUT */
#define WORKER_MIRROR_DELAY_MS	2000
#define WORKER_MIRROR_TIMEOUT	300		/* seconds */
#define WORKER_MIRROR_REFS_MAX	256		/* deleted refs of one repository remembered until then */
#define S2I_INSTANCE_ID_FILE	"instance-id"	/* in state_dir: the io.s2i-agent.owner value */
#define WORKER_ORPHAN_WAIT_MS	3000		/* start-up: wait for killed orphan builds */
#define WORKER_LOG_POLL_MS	200		/* ?follow=1: how often new log bytes are looked for */
#define WORKER_LOG_CHUNK	(256 * 1024)	/* bytes read from a log file per step */
#define WORKER_LOG_BACKLOG	(1024 * 1024)	/* unsent bytes per log reader before pausing */
/* a shared store: how often a running build's new log bytes are copied to it, at
 * most how many per copy, and how long a reader of a build running elsewhere waits
 * for the store's wake-up (LISTEN/NOTIFY) before it looks anyway (a missed one) */
#define WORKER_LOG_SHIP_MS	250
#define WORKER_LOG_SHIP_MAX	(1024 * 1024)
#define WORKER_LOG_WAIT_MS	5000
#define WORKER_CANCEL_SWEEP_MAX	64		/* cancels asked of this agent read at once */
#define WORKER_RETRY_SECONDS	5		/* a queued build the database could not close: next try */
/* a fleet's agents record themselves (and their labels) this often; one not heard of
 * for WORKER_FLEET_LIVE_MS no longer counts for run_on (worker_fleet.c) */
#define WORKER_FLEET_SEEN_MS	10000
#define WORKER_FLEET_LIVE_MS	(3 * WORKER_FLEET_SEEN_MS)
#define WORKER_WRITE_RETRY_MIN_MS 500		/* a write the database refused (disk full): first retry, */
#define WORKER_WRITE_RETRY_MAX_MS 10000		/* doubled up to this */
/* ms after the database says a lease runs out before a takeover is tried: its clock
 * and ours are a round trip apart, and a takeover too early is refused */
#define WORKER_LEASE_MARGIN_MS	50
/* a build whose lease this agent could not renew is stopped by its own clock a sixth of
 * the lease before the lease runs out (from the start of the last renewal that landed):
 * time for its process to remove its containers before another agent takes it over */
#define WORKER_LEASE_SAFETY_DIV	6
/* retention passes (worker_keep.c): one at start-up, one when a build ends unless
 * one ran within RETAIN_GAP_MS, one every RETAIN_INTERVAL_MS. A pass runs in
 * slices of at most RETAIN_SLICE_ROWS builds or RETAIN_SLICE_MS, each in a
 * transaction of the writer's without deliveries (batch_op_yield: a delivery waits
 * for at most one slice and its fsync); it stops after RETAIN_PASS_MS */
#define RETAIN_INTERVAL_MS	(15LL * 60 * 1000)
#define RETAIN_GAP_MS		(5LL * 1000)
#define RETAIN_SLICE_ROWS	64
#define RETAIN_SLICE_MS		2
#define RETAIN_PASS_MS		(10LL * 1000)
#define RETAIN_CLI_SLICE_ROWS	1024	/* s2i-agent prune: builds per transaction */
#define RETAIN_SWEEP_TIMEOUT	600		/* seconds: a __sweep of the logs' trash is killed after */
/* free space (worker_disk.c): statvfs at most every DISK_CHECK_MS while scheduling;
 * held builds looked at again every DISK_RECHECK_MS; the engine's data root (GET
 * /info, unix:// engines only) asked every DISK_ROOT_INTERVAL_MS */
#define DISK_CHECK_MS		1000
#define DISK_RECHECK_MS		5000
#define DISK_ROOT_INTERVAL_MS	(5LL * 60 * 1000)

/* commit statuses */
#define STATUS_DESCRIPTION_MAX	140
#define STATUS_RETRY_MIN	2		/* seconds, doubled each attempt */
#define STATUS_RETRY_MAX	3600
#define STATUS_MAX_ATTEMPTS	20
/* status posts in flight at once (each a `__status` child): over all forges, to one
 * forge API (scheme://host:port; GitHub asks clients not to flood it), and always
 * one at a time per repository, so a forge hanging for one repository holds one
 * poster and the others keep posting */
#define STATUS_POSTERS		4
#define STATUS_POSTERS_PER_FORGE 2
#define STATUS_SCAN_MAX		256		/* commits with waiting statuses looked at per pass */
/* on a shared store, a status is claimed by the agent that posts it for this long:
 * its post is killed after STATUS_TIMEOUT + KILL_GRACE_SECONDS, and its outcome then
 * has the rest to be recorded; a claim still there after it (its agent died) is
 * taken over by another agent */
#define STATUS_CLAIM_SECONDS	(STATUS_TIMEOUT + KILL_GRACE_SECONDS + 20)
/* httpc: the commands' HTTP client (each caller sets its own timeouts and body cap) */
#define HTTPC_HEADER_MAX	8192		/* bytes of one answer header kept; longer: dropped */
#define HTTPC_HEADERS_MAX	200		/* answer headers kept */

/* forge: posting commit statuses */
#define STATUS_TIMEOUT		30		/* seconds for one status post */
#define STATUS_CONNECT_TIMEOUT	10		/* seconds */
#define STATUS_RESPONSE_MAX	(64 * 1024)	/* bytes of a forge's answer kept */
#define STATUS_LIST_MAX		(1024 * 1024)	/* bytes of a commit's statuses read (forge_find) */
#define STATUS_MESSAGE_MAX	300		/* bytes of a forge's message quoted in errors */
#define STATUS_DEFAULT_CONTEXT	"s2i-agent"
#define STATUS_GITHUB_API	"https://api.github.com"

/* notify: the git hook client */
#define NOTIFY_URL_ENV		"S2I_AGENT_URL"
#define NOTIFY_DEFAULT_URL	"http://127.0.0.1:8080"
#define NOTIFY_MAX_REFS		10000		/* ref lines read from stdin */
#define NOTIFY_TIMEOUT		60		/* seconds for one event post or build read */
#define NOTIFY_CONNECT_TIMEOUT	10		/* seconds */
#define NOTIFY_RETRIES		3		/* extra tries after a 503 or a network error */
#define NOTIFY_RETRY_AFTER_MAX	30		/* seconds; a longer Retry-After is cut to this */
#define NOTIFY_ANSWER_MAX	(64 * 1024)	/* bytes of an agent's answer kept */
#define NOTIFY_FOLLOW_LOST	60		/* seconds without reaching the agent while following */
#define NOTIFY_ESC_HOLD		64		/* bytes of a cut escape held for the next write
						 * (ctlesc's longest colour sequence) */
#define NOTIFY_SAY_MAX		2048		/* bytes of one message line, before escaping */

/* dash (HTML pages) */
#define DASH_PAGE_MAX		(8u * 1024 * 1024)	/* cap for one rendered page */
#define DASH_LOG_INLINE_MAX	(256u * 1024)	/* end of a finished build's log in its page */
#define DASH_SUBJECT_MAX	100		/* bytes of a commit subject on the dashboard */
#define DASH_SHORT_SHA		7
#define DASH_AGENT_SHOWN	8		/* characters of an agent id under its builds */
#define DASH_PAGE_BUILDS	50		/* builds on one page of the dashboard */
#define DASH_REFRESH_SECONDS	10		/* dashboard reload while builds are active */
#define DASH_FOLLOW_RETRY_MS	2000		/* build page: wait before following again */
#define DASH_ACCEPT_MAX		4096		/* longer Accept headers get JSON */

/* gitsrc, knownhosts, srctar */
#define KNOWNHOSTS_LINE_MAX	16384		/* longer known_hosts lines are an error */
#define GITSRC_SUBMODULES_MAX	256		/* submodules per build, all levels */
#define GITSRC_SUBMODULE_DEPTH	8		/* nesting levels of submodules */
#define GITSRC_GITMODULES_MAX	(1024 * 1024)	/* .gitmodules blob */
#define GITSRC_PATH_MAX		4096		/* one path inside a source tree */
#define GITSRC_AUTH_TRIES	2		/* credential callbacks per connection */
#define SSHKEY_FILE_MAX		(64 * 1024)	/* bytes of an ssh_key_file read to tell its type */
#define GITSRC_MWINDOW_SIZE	(1u * 1024 * 1024)	/* pack window: mapped pack pages count in RSS */
#define GITSRC_MWINDOW_LIMIT	(4u * 1024 * 1024)	/* pack bytes mapped at once (RSS while streaming) */
#define GITSRC_CACHE_MAX	(16u * 1024 * 1024)	/* libgit2 object cache */
#define GITSRC_CHUNK		(64 * 1024)	/* streaming reads */
#define GITSRC_GC_PACKS		16		/* a mirror with more packs is repacked after a build */
#define GITSRC_GC_LOOSE		256		/* ... or with more loose objects */
#define GITSRC_STREAM_MIN	(4u * 1024 * 1024)	/* blobs this big are inflated from their pack in chunks */
#define SRCTAR_DEPTH_MAX	256		/* directory nesting on disk */
#define SRCIGNORE_FILE_MAX	(1024 * 1024)	/* bytes of a source's .s2iignore */
#define SRCTAR_DIR_ENTRIES_MAX	1000000		/* names in one directory on disk */

#endif
