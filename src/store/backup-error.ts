/** Why a backup or restore was refused; the command line prints its message and exits 2. */
export class BackupError extends Error {}
