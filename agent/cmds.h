/* cmds: the subcommands of the s2i-agent binary (s2i-agent(8) COMMANDS), one file each.
 * Each returns the process exit code. */
#ifndef S2I_CMDS_H
#define S2I_CMDS_H

#include <stdio.h>

int cmd_serve(int argc, char **argv);	/* cmd_serve.c */
int cmd_check(int argc, char **argv);	/* cmd_check.c */
int cmd_version(int argc, char **argv);	/* cmd_version.c */
int cmd_build(int argc, char **argv);	/* cmd_build.c */
int cmd_usage(int argc, char **argv);	/* cmd_usage.c */
int cmd_notify(int argc, char **argv);	/* cmd_notify.c */
int cmd_prune(int argc, char **argv);	/* cmd_prune.c */
int cmd_migrate(int argc, char **argv);	/* cmd_migrate.c */
int cmd_forge_post(int argc, char **argv);	/* cmd_forge_post.c: hidden `__forge-post`, for tests */
int cmd_gitsrc_fetch(int argc, char **argv);	/* cmd_gitsrc_fetch.c: hidden `__gitsrc-fetch`, for tests and bench */
/* the daemon's child processes (hidden commands, see worker.h and runner.h) */
int cmd_build_child(int argc, char **argv);	/* cmd_build_child.c: __build ID */
int cmd_status_child(int argc, char **argv);	/* cmd_status_child.c: __status */
int cmd_cleanup_child(int argc, char **argv);	/* cmd_cleanup_child.c: __cleanup */
int cmd_mirror_child(int argc, char **argv);	/* cmd_mirror_child.c: __mirror-clean */
int cmd_sweep_child(int argc, char **argv);	/* cmd_sweep_child.c: __sweep */

/* Help (cmds.c holds every command's one-line summary and usage): cmds_usage prints
 * NAME's to f (-1: no such command), cmds_usage_all the list of commands, the default
 * configuration path and the man pages. cmds_wants_help: argv[1..] holds --help or -h
 * (before a "--"). cmds_usage_error prints "s2i-agent NAME: MESSAGE" and NAME's usage
 * to stderr and returns 2, the exit code of a usage error. */
int cmds_usage(const char *name, FILE *f);
void cmds_usage_all(FILE *f);
int cmds_wants_help(int argc, char **argv);
int cmds_usage_error(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cmd_help(int argc, char **argv);	/* cmd_help.c: `help [COMMAND]` */

/* -c FILE handling shared by serve and check: returns the path to use (cmds.c). */
const char *cmds_config_arg(int argc, char **argv);

/* The daemon runs as its own lean executable, s2i-agentd, linked without
 * libgit2, libcurl and libarchive (their mere loading costs ~7 MB of RSS), in
 * the directory of s2i-agent: `s2i-agent serve` execs it, and s2i-agentd execs
 * s2i-agent for every other command (the pipeline's build children). Execs
 * dir(/proc/self/exe)/name with argv; returns -1 (errno set) when it cannot. */
#define CMDS_DAEMON_EXE		"s2i-agentd"
#define CMDS_TOOL_EXE		"s2i-agent"
int cmds_exec_sibling(const char *name, char **argv);

/* The peak RSS of this process in kB (VmHWM of /proc/self/status; -1 when unknown),
 * printed by the measuring hidden commands and read by the unit tests. */
long cmds_vmhwm_kb(void);

#endif
