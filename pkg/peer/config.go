package peer

import (
	"errors"
	"fmt"
)

// Role says which side of the negotiation a Conn takes.
type Role int

const (
	// Offerer creates the offer as soon as the Conn is constructed.
	Offerer Role = iota + 1
	// Answerer waits for the Offerer's offer and answers it.
	Answerer
)

// String returns "offerer" or "answerer".
func (r Role) String() string {
	switch r {
	case Offerer:
		return "offerer"
	case Answerer:
		return "answerer"
	default:
		return fmt.Sprintf("Role(%d)", int(r))
	}
}

// Defaults applied to zero Config fields.
const (
	// DefaultAcceptBacklog is the default number of remotely opened channels
	// held for Accept.
	DefaultAcceptBacklog = 16
	// DefaultHighWaterMark is the default number of buffered bytes above which
	// Channel.Write blocks.
	DefaultHighWaterMark = 1 << 20
	// DefaultLowWaterMark is the default number of buffered bytes a blocked
	// Channel.Write waits for the buffer to drain to.
	DefaultLowWaterMark = 256 << 10
	// MinMessageSize is the floor Channel.MaxMessageSize reports when the peer
	// states no limit: every WebRTC stack accepts 16 KiB messages.
	MinMessageSize = 16 << 10
)

// maxMessageSizeCap bounds Channel.MaxMessageSize: pion advertises 1 GiB by
// default, and a browser may report Infinity.
const maxMessageSizeCap = 1 << 30

// Config configures a Conn. Only Role and OnSignal are required.
type Config struct {
	// Role is Offerer or Answerer.
	Role Role

	// ICEServers lists STUN and TURN servers. It is empty by default, and
	// nothing in this package adds one: on loopback and on a LAN, host
	// candidates are enough.
	ICEServers []ICEServer

	// OnSignal receives every local signal: the offer or answer, then each
	// trickled candidate, then end-of-candidates. It is called on one
	// goroutine, in order, never concurrently with itself or OnStateChange,
	// possibly before New returns. It may call any Conn method, including
	// Close.
	OnSignal func(Signal)

	// OnStateChange, if set, receives every state change, on the same
	// goroutine and under the same rules as OnSignal. The last call is
	// StateClosed.
	OnStateChange func(State)

	// AcceptBacklog bounds the number of channels opened by the peer and not
	// yet returned by Accept (default DefaultAcceptBacklog). A channel that
	// arrives while the backlog is full is closed, and the peer reads EOF.
	AcceptBacklog int

	// HighWaterMark bounds each channel's send buffer, in bytes (default
	// DefaultHighWaterMark). Channel.Write sends at once while the message
	// fits under it; otherwise it waits until the buffered amount drains to
	// LowWaterMark. The buffered amount thus never exceeds
	// max(HighWaterMark, LowWaterMark+len(message)).
	HighWaterMark int

	// LowWaterMark is the buffered amount, in bytes, a blocked Channel.Write
	// waits for (default DefaultLowWaterMark, or HighWaterMark/2 if smaller).
	// It must be below HighWaterMark.
	LowWaterMark int

	// Native holds settings only pion exposes; it has no fields under GOOS=js.
	Native NativeOptions

	// Browser holds settings only the browser build uses; it has no fields
	// natively.
	Browser BrowserOptions
}

// withDefaults returns cfg with zero fields defaulted, or an error for an
// unusable configuration.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Role != Offerer && cfg.Role != Answerer {
		return cfg, fmt.Errorf("peer: config: role %v is neither Offerer nor Answerer", cfg.Role)
	}
	if cfg.OnSignal == nil {
		return cfg, errors.New("peer: config: OnSignal is required")
	}
	if cfg.AcceptBacklog <= 0 {
		cfg.AcceptBacklog = DefaultAcceptBacklog
	}
	if cfg.HighWaterMark <= 0 {
		cfg.HighWaterMark = DefaultHighWaterMark
	}
	if cfg.LowWaterMark <= 0 {
		cfg.LowWaterMark = min(DefaultLowWaterMark, cfg.HighWaterMark/2)
	}
	if cfg.LowWaterMark >= cfg.HighWaterMark {
		return cfg, fmt.Errorf("peer: config: LowWaterMark %d is not below HighWaterMark %d",
			cfg.LowWaterMark, cfg.HighWaterMark)
	}
	var err error
	if cfg.Native, err = cfg.Native.withDefaults(); err != nil {
		return cfg, err
	}
	if cfg.Browser, err = cfg.Browser.withDefaults(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// clampMessageSize turns a peer's stated message limit into what
// Channel.MaxMessageSize reports: MinMessageSize when none is known, at most
// maxMessageSizeCap.
func clampMessageSize(n int) int {
	switch {
	case n <= 0:
		return MinMessageSize
	case n > maxMessageSizeCap:
		return maxMessageSizeCap
	default:
		return n
	}
}
