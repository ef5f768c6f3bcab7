//go:build unix

package main

import "syscall"

// umask sets the process's file mode creation mask and returns the old one: the control
// socket is created 0600 from the start, not chmod-ed after others could connect.
func umask(m int) int { return syscall.Umask(m) }
