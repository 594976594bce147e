/**
 * Where `safe-release-ops ssh-exec` reads the SSH private key: the secret
 * environment of the command that runs it (a remote host's migration and
 * writers), never its command line. The program sets it, the ops command reads it.
 */
export const SSH_KEY_ENV = "SAFE_RELEASE_SSH_KEY";
