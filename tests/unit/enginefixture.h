/* enginefixture: what the unit tests against a real container engine share
 * (test_engine_live, test_engine_tls); the code is in enginefixture.c. */
#ifndef S2I_TEST_ENGINEFIXTURE_H
#define S2I_TEST_ENGINEFIXTURE_H

/* The engine under test, from S2I_TEST_ENGINE: unset or "docker": NULL (dockerd,
 * engine_new_from_env's default); "podman": the service of tests/lib/podman.sh (as the
 * e2e tests), started if it is not up; "docker28", "docker28-containerd", "podman5":
 * that engine of tests/lib/sidengine.sh, started if it is not up; anything else: an
 * engine URL. */
const char *ef_engine_url(void);

#endif
