package relay

import (
	"context"
	"errors"
	"sync"
)

// Local is a daemon registered on this relay instance, as a Router sees it: something that
// answers forwarded requests, and that can be told another registration of its id took over.
type Local interface {
	// RoundTrip sends m (a REQUEST) to the daemon and waits for its RESPONSE, until ctx ends.
	// It fails with an error wrapping ErrOffline or ErrBusy.
	RoundTrip(ctx context.Context, m Message) (Message, error)
	// Replaced ends the registration: the same id registered again, here or on another
	// instance. The daemon's WebSocket is closed with 4409 replaced.
	Replaced()
}

// Router routes signaling requests to the daemon registered under an id, wherever it is
// registered. A relay alone uses the in-process router (NewLocalRouter); relays sharing the
// load use the NATS one (NewNATSRouter), behind the same interface.
//
// A daemon id is online once: a second registration of an id, on this instance or on another,
// replaces the first, whose Local's Replaced is called.
type Router interface {
	// Register makes l the daemon of id. unregister ends the registration (a no-op once it has
	// been replaced).
	Register(ctx context.Context, id string, l Local) (unregister func(), err error)
	// Forward sends a REQUEST to the daemon of id and returns its RESPONSE. The route says
	// whether the daemon is registered on this instance ("local") or on another ("cluster").
	// It fails with an error wrapping ErrOffline (no daemon of that id is registered
	// anywhere), ErrBusy, ErrCluster, or ctx's error.
	Forward(ctx context.Context, id string, m Message) (resp Message, route string, err error)
	// Online reports whether a daemon of id is registered on any instance.
	Online(ctx context.Context, id string) bool
	// Close ends every registration's routing (not the daemons' connections: the Server
	// closes those) and the router's resources.
	Close() error
}

// Errors of Local.RoundTrip and Router.Forward.
var (
	ErrOffline = errors.New("relay: daemon offline")
	ErrBusy    = errors.New("relay: too many requests in flight")
	// ErrCluster says the relays' bus (NATS) could not carry the request: the relay is cut
	// off from the other instances for now.
	ErrCluster = errors.New("relay: the cluster is unreachable")
)

// The routes of Forward.
const (
	RouteLocal   = "local"
	RouteCluster = "cluster"
)

// localRouter is the in-process Router: the registrations of one relay.
type localRouter struct {
	mu sync.Mutex
	m  map[string]Local
}

// NewLocalRouter returns the in-process Router, what a relay on its own uses.
func NewLocalRouter() Router { return &localRouter{m: map[string]Local{}} }

func (r *localRouter) Register(_ context.Context, id string, l Local) (func(), error) {
	r.mu.Lock()
	old := r.m[id]
	r.m[id] = l
	r.mu.Unlock()
	if old != nil && old != l {
		old.Replaced()
	}
	return func() {
		r.mu.Lock()
		if r.m[id] == l {
			delete(r.m, id)
		}
		r.mu.Unlock()
	}, nil
}

func (r *localRouter) lookup(id string) Local {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[id]
}

func (r *localRouter) Forward(ctx context.Context, id string, m Message) (Message, string, error) {
	l := r.lookup(id)
	if l == nil {
		return Message{}, RouteLocal, ErrOffline
	}
	resp, err := l.RoundTrip(ctx, m)
	return resp, RouteLocal, err
}

func (r *localRouter) Online(_ context.Context, id string) bool { return r.lookup(id) != nil }

func (r *localRouter) Close() error { return nil }
