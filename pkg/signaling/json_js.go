//go:build js

package signaling

import (
	"fmt"
	"math"
	"syscall/js"

	"github.com/rangecast/rangecast/internal/jsutil"
	"github.com/rangecast/rangecast/pkg/peer"
)

// The browser build encodes and decodes the client's few messages with the page's JSON
// object instead of encoding/json, which with the reflection it needs was an eighth of the
// gzipped wasm (1.31 MB with it, 1.15 without: docs/BENCHMARKS.md). The shapes are those of
// the struct tags in messages.go, dial.go and pkg/peer, which the daemon and the relay decode
// with encoding/json; json_js_test.go checks that both builds agree, on good input and bad.
// What comes from a daemon or a relay is checked field by field: a wrong type is an error,
// as it is for encoding/json, never a panic.

var (
	jsJSON   = js.Global().Get("JSON")
	jsObject = js.Global().Get("Object")
	jsArray  = js.Global().Get("Array")
)

// encodeJSON encodes what the client sends: an offer, and batches of candidates.
func encodeJSON(v any) ([]byte, error) {
	var o js.Value
	switch v := v.(type) {
	case peer.Signal:
		o = signalToJS(v)
	case []peer.Signal:
		o = jsArray.New(len(v))
		for i, s := range v {
			o.SetIndex(i, signalToJS(s))
		}
	default:
		return nil, fmt.Errorf("signaling: no JSON encoding for %T in the browser build", v)
	}
	s, err := jsutil.Call(jsJSON, "stringify", o)
	if err != nil {
		return nil, err
	}
	return []byte(s.String()), nil
}

func signalToJS(s peer.Signal) js.Value {
	o := jsObject.New()
	o.Set("type", string(s.Type))
	if s.SDP != "" {
		o.Set("sdp", s.SDP)
	}
	if c := s.Candidate; c != nil {
		o.Set("candidate", c.JSInit())
	}
	return o
}

// decodeJSON decodes what the client receives into v: a *CreateResponse, *PollResponse,
// *ErrorResponse or *ICEResponse. Like encoding/json, it ignores fields it does not know,
// leaves those that are absent or null as they were, and fails on a value of the wrong type;
// unlike it, it matches field names exactly (encoding/json also takes "ID" for "id").
func decodeJSON(b []byte, v any) error {
	root, err := jsutil.Call(jsJSON, "parse", string(b))
	if err != nil {
		return fmt.Errorf("signaling: bad JSON: %w", err)
	}
	d := &decoder{}
	if !d.object(root, "") {
		return d.err // null leaves v as it was
	}
	switch v := v.(type) {
	case *CreateResponse:
		d.str(root, "id", &v.ID)
		if a := root.Get("answer"); d.object(a, "answer") {
			d.signal(a, "answer", &v.Answer)
		}
	case *PollResponse:
		decodeArray(d, root, "", "signals", &v.Signals, func(e js.Value, field string, s *peer.Signal) {
			if d.object(e, field) {
				d.signal(e, field, s)
			}
		})
		d.integer(root, "next", &v.Next)
		d.boolean(root, "done", &v.Done)
	case *ErrorResponse:
		d.str(root, "code", &v.Code)
		d.str(root, "error", &v.Message)
	case *ICEResponse:
		decodeArray(d, root, "", "iceServers", &v.ICEServers, d.iceServer)
		var exp float64
		if d.number(root, "expires", &exp) {
			v.Expires = int64(exp)
		}
	default:
		return fmt.Errorf("signaling: no JSON decoding for %T in the browser build", v)
	}
	return d.err
}

// decodeArray reads the array o[name] into *dst, each element with f; field names the array
// in errors after prefix. Absent or null leaves *dst as it was.
func decodeArray[T any](d *decoder, o js.Value, prefix, name string, dst *[]T, f func(e js.Value, field string, t *T)) {
	arr := o.Get(name)
	if !d.array(arr, prefix+name) {
		return
	}
	n := arr.Length()
	*dst = make([]T, n)
	for i := range n {
		f(arr.Index(i), fmt.Sprintf("%s%s[%d]", prefix, name, i), &(*dst)[i])
	}
}

// decoder reads fields of parsed JSON and keeps the first type error.
type decoder struct{ err error }

func (d *decoder) fail(field, want string, got js.Value) {
	if d.err == nil {
		if field == "" {
			field = "the answer"
		}
		d.err = fmt.Errorf("signaling: bad JSON: %s is %s, not %s", field, kindOf(got), want)
	}
}

func kindOf(v js.Value) string {
	if v.Type() == js.TypeObject && jsArray.Call("isArray", v).Bool() {
		return "an array"
	}
	return "a " + v.Type().String()
}

// present reports whether v holds a value; absent and null leave the field as it was.
func present(v js.Value) bool { return !v.IsUndefined() && !v.IsNull() }

func (d *decoder) object(v js.Value, field string) bool {
	if !present(v) {
		return false
	}
	if v.Type() != js.TypeObject || jsArray.Call("isArray", v).Bool() {
		d.fail(field, "an object", v)
		return false
	}
	return d.err == nil
}

func (d *decoder) array(v js.Value, field string) bool {
	if !present(v) {
		return false
	}
	if v.Type() != js.TypeObject || !jsArray.Call("isArray", v).Bool() {
		d.fail(field, "an array", v)
		return false
	}
	return d.err == nil
}

// field returns o[name] if it is present and of type t; a value of another type is an error.
func (d *decoder) field(o js.Value, name string, t js.Type, want string) (js.Value, bool) {
	v := o.Get(name)
	if !present(v) {
		return v, false
	}
	if v.Type() != t {
		d.fail(name, want, v)
		return v, false
	}
	return v, true
}

func (d *decoder) str(o js.Value, name string, dst *string) {
	if v, ok := d.field(o, name, js.TypeString, "a string"); ok {
		*dst = v.String()
	}
}

func (d *decoder) optStr(o js.Value, name string, dst **string) {
	if v, ok := d.field(o, name, js.TypeString, "a string"); ok {
		s := v.String()
		*dst = &s
	}
}

func (d *decoder) boolean(o js.Value, name string, dst *bool) {
	if v, ok := d.field(o, name, js.TypeBoolean, "a boolean"); ok {
		*dst = v.Bool()
	}
}

// number reads an integer that a float64 holds exactly (|n| ≤ 2^53): a fraction, or anything
// but a number, is an error, as encoding/json's into an int. (JSON.parse has already made 1.0
// and 1e3 numbers, which it takes as 1 and 1000 where encoding/json refuses them.)
func (d *decoder) number(o js.Value, name string, dst *float64) bool {
	v, ok := d.field(o, name, js.TypeNumber, "an integer")
	if !ok {
		return false
	}
	f := v.Float()
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		d.fail(name, "an integer", v)
		return false
	}
	*dst = f
	return true
}

func (d *decoder) integer(o js.Value, name string, dst *int) {
	var f float64
	if d.number(o, name, &f) {
		*dst = int(f)
	}
}

func (d *decoder) signal(o js.Value, field string, s *peer.Signal) {
	var t string
	d.str(o, "type", &t)
	s.Type = peer.SignalType(t)
	d.str(o, "sdp", &s.SDP)
	c := o.Get("candidate")
	if !d.object(c, field+".candidate") {
		return
	}
	ci := &peer.ICECandidateInit{}
	d.str(c, "candidate", &ci.Candidate)
	d.optStr(c, "sdpMid", &ci.SDPMid)
	var idx float64
	if d.number(c, "sdpMLineIndex", &idx) {
		if idx < 0 || idx > math.MaxUint16 {
			d.fail(field+".candidate.sdpMLineIndex", "an m-line index", c.Get("sdpMLineIndex"))
			return
		}
		i := uint16(idx)
		ci.SDPMLineIndex = &i
	}
	d.optStr(c, "usernameFragment", &ci.UsernameFragment)
	s.Candidate = ci
}

func (d *decoder) iceServer(o js.Value, field string, s *peer.ICEServer) {
	if !d.object(o, field) {
		return
	}
	decodeArray(d, o, field+".", "urls", &s.URLs, func(u js.Value, field string, url *string) {
		if u.Type() != js.TypeString {
			d.fail(field, "a string", u)
			return
		}
		*url = u.String()
	})
	d.str(o, "username", &s.Username)
	d.str(o, "credential", &s.Credential)
}
