//go:build !js

package peer

import (
	"sync"

	"github.com/pion/logging"
)

// pionLoggers is the logger factory every native Conn gives pion. pion's default factory
// builds a fresh logger, five log.Loggers each, for every scope of every PeerConnection,
// some 10 KiB per connection that a daemon keeps for each idle peer; the loggers of one scope
// behave alike (the same levels from PION_LOG_* and the same stderr), so one per scope is
// shared by every Conn of the process. log.Logger is safe for concurrent use.
var pionLoggers = &sharedLoggerFactory{base: logging.NewDefaultLoggerFactory()}

type sharedLoggerFactory struct {
	base logging.LoggerFactory

	mu      sync.Mutex
	byScope map[string]logging.LeveledLogger
}

// NewLogger returns the process's logger for scope, creating it on first use.
func (f *sharedLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l, ok := f.byScope[scope]; ok {
		return l
	}
	if f.byScope == nil {
		f.byScope = make(map[string]logging.LeveledLogger)
	}
	l := f.base.NewLogger(scope)
	f.byScope[scope] = l
	return l
}
