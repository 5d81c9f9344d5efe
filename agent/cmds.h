/* cmds: the subcommands of the s2i-agent binary (SPEC §1), one file each.
 * Each returns the process exit code. */
#ifndef S2I_CMDS_H
#define S2I_CMDS_H

int cmd_serve(int argc, char **argv);	/* serve.c */
int cmd_check(int argc, char **argv);	/* main.c */
int cmd_build(int argc, char **argv);	/* build_cmd.c */
int cmd_notify(int argc, char **argv);	/* notify.c */
int cmd_forge_post(int argc, char **argv);	/* forge_cmd.c: hidden `__forge-post`, for tests */
int cmd_gitsrc_fetch(int argc, char **argv);	/* gitsrc_cmd.c: hidden `__gitsrc-fetch`, for tests and bench */
/* runner.c: the daemon's child processes (hidden commands, see worker.h) */
int cmd_build_child(int argc, char **argv);	/* __build ID */
int cmd_status_child(int argc, char **argv);	/* __status */
int cmd_cleanup_child(int argc, char **argv);	/* __cleanup */

/* -c FILE handling shared by serve and check: returns the path to use. */
const char *cmds_config_arg(int argc, char **argv);

#endif
