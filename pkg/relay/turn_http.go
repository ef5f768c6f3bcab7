package relay

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// ice answers GET /d/<id>/api/v1/ice itself, never forwarding it: the STUN and TURN
// servers a client of the daemon should use, with credentials of the daemon's id. An
// offline daemon gets 503 daemon_offline, so that credentials are handed out only for
// daemons that are there; a relay without TURN answers an empty list.
func (s *Server) ice(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !ValidID(id) {
		writeError(w, http.StatusNotFound, CodeNotFound, "not a daemon id")
		return
	}
	if !s.sigLimit.allow(clientIP(r)) {
		s.metrics.refuse(CodeRateLimited)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, CodeRateLimited, fmt.Sprintf("at most %v signaling requests per second from one address", s.opts.SignalRate))
		return
	}
	if !s.router.Online(r.Context(), id) {
		writeError(w, http.StatusServiceUnavailable, CodeDaemonOffline, "the daemon is offline: it is not registered on this relay")
		return
	}
	cfg := ICEConfig{ICEServers: []ICEServer{}}
	if s.opts.TURN != nil {
		var err error
		if cfg, err = s.opts.TURN.Config(id); err != nil {
			writeError(w, http.StatusInternalServerError, CodeBadRequest, "could not make credentials")
			return
		}
	}
	writeJSON(w, http.StatusOK, cfg)
}

// sendICE sends a registered daemon its STUN/TURN servers and credentials, and fresh ones
// at half their life, until its connection ends.
func (s *Server) sendICE(d *daemonConn) {
	t := s.opts.TURN
	for {
		cfg, err := t.Config(d.id)
		if err != nil {
			return
		}
		b, _ := json.Marshal(cfg)
		if err := d.write(&Message{Type: MsgICEServers, Body: b}); err != nil {
			return
		}
		timer := time.NewTimer(t.TTL() / 2)
		select {
		case <-timer.C:
		case <-d.done:
			timer.Stop()
			return
		}
	}
}
