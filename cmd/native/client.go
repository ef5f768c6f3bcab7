package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/rangecast/rangecast/pkg/connect"
	"github.com/rangecast/rangecast/pkg/peer"
	"github.com/rangecast/rangecast/pkg/rangefs"
	"github.com/rangecast/rangecast/pkg/wire"
)

// dial opens a connection to the daemon named by link, with the native client's settings
// and, besides the relay's (for a relay link), the STUN/TURN servers named by iceServers.
func dial(ctx context.Context, link string, iceServers ...string) (*connect.Remote, error) {
	r, err := connect.Dial(ctx, link, dialOptions(iceServers))
	if err != nil {
		return nil, explainDial(err)
	}
	return r, nil
}

// dialOptions are the native client's options with iceServers added.
func dialOptions(iceServers []string) connect.Options {
	opts := connect.NativeOptions()
	for _, u := range iceServers {
		opts.Signal.Peer.ICEServers = append(opts.Signal.Peer.ICEServers, peer.ICEServer{URLs: []string{u}})
	}
	return opts
}

// explainDial explains an error of connect.Dial.
func explainDial(err error) error {
	return explain(connect.WithCode(connect.DialCodeOf(err), err))
}

// explain turns the errors people meet into sentences that say what to do. It goes by
// connect's code table, the one the browser client uses too.
func explain(err error) error {
	switch connect.CodeOf(err) {
	case connect.CodeBadLink:
		return fmt.Errorf("%w (copy the whole link the daemon printed, with its #t= or #s= part)", err)
	case connect.CodeUnauthorized:
		return fmt.Errorf("the daemon refused the link's token: %w", err)
	case connect.CodeLinkExpired, connect.CodeLinkRevoked:
		return fmt.Errorf("the daemon refused the share link: %w", err)
	case connect.CodeForbidden:
		return fmt.Errorf("outside what the link shares: %w", err)
	case connect.CodeTooManyPeers:
		return fmt.Errorf("the daemon is busy: %w", err)
	case connect.CodeBusy:
		return fmt.Errorf("the daemon is busy, try again: %w", err)
	case connect.CodeSetupTimeout, connect.CodeUnreachable:
		return fmt.Errorf("could not connect to the daemon: %w", err)
	case connect.CodeGoingAway:
		return fmt.Errorf("the daemon shut down: %w", err)
	case connect.CodeChanged:
		return fmt.Errorf("the file changed on the daemon while it was being read: %w", err)
	case connect.CodeClosed:
		return fmt.Errorf("lost the connection to the daemon: %w", err)
	}
	return err
}

// What to run on a folder instead, for openRemote: a format of the folder's path.
const (
	folderForGet = "`rangecast get -r LINK %s` mirrors it"
	folderForCat = "`rangecast ls LINK %s` lists it"
)

// openRemote opens the remote file p. When p is a folder, the error says so and what to
// run instead (instead: folderForGet, folderForCat), not only that the daemon refused to
// open something that is not a regular file.
func openRemote(ctx context.Context, s *connect.Remote, p, instead string) (*rangefs.File, error) {
	f, err := s.Open(ctx, p)
	if err == nil {
		return f, nil
	}
	if se, ok := errors.AsType[*rangefs.StatusError](err); ok && se.Status == wire.StatusNotRegular {
		if fi, serr := s.Stat(ctx, p); serr == nil && fi.IsDir() {
			return nil, fmt.Errorf("%s is a folder: "+instead, p, p)
		}
	}
	return nil, explain(err)
}
