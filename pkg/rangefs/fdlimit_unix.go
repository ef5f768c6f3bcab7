//go:build unix

package rangefs

import "syscall"

// defaultMaxOpenFiles is half the soft RLIMIT_NOFILE (which Go raises to the hard limit at
// start-up, as of Go 1.19): the other half is the reserve for sockets, os.Root's walks, logs
// and whatever else the process opens.
func defaultMaxOpenFiles() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 512
	}
	return int(min(rl.Cur/2, 1<<20)) //nolint:gosec // bounded
}
