//go:build unix

package rangefs

import "syscall"

// openFlags are added to O_RDONLY when the server opens a file. O_NONBLOCK keeps open(2) of a
// FIFO from waiting for a writer; the server then refuses it as not a regular file. It has no
// effect on reads of regular files.
const openFlags = syscall.O_NONBLOCK
