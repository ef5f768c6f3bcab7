package signaling

import (
	"context"
	"fmt"
)

// api is the HTTP side of the signaling client: net/http natively (api_native.go), the
// browser's fetch under GOOS=js (api_js.go), so that the wasm does not link net/http.
type api interface {
	// do sends one request with the bearer token (none if token is empty) and returns the
	// status and body.
	do(ctx context.Context, method, url, token string, body []byte) (int, []byte, error)
	// close releases idle connections.
	close()
}

// call sends a JSON request and decodes a JSON answer into out (if not nil). Non-2xx answers
// become *APIError.
func call(ctx context.Context, a api, method, url, token string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = encodeJSON(in); err != nil {
			return err
		}
	}
	status, resp, err := a.do(ctx, method, url, token, body)
	if err != nil {
		return fmt.Errorf("signal: %s %s: %w", method, url, err)
	}
	if status < 200 || status > 299 {
		var er ErrorResponse
		if decodeJSON(resp, &er) != nil || er.Code == "" {
			er = ErrorResponse{Code: fmt.Sprintf("http_%d", status), Message: string(resp)}
		}
		return &APIError{Status: status, Code: er.Code, Message: er.Message}
	}
	if out == nil || status == 204 {
		return nil
	}
	if err := decodeJSON(resp, out); err != nil {
		return fmt.Errorf("signal: %s %s: bad answer: %w", method, url, err)
	}
	return nil
}
