//go:build !js

package signaling

import "encoding/json"

// encodeJSON and decodeJSON are the client's JSON: encoding/json natively, the page's own
// JSON object in the browser build (json_js.go).
func encodeJSON(v any) ([]byte, error) { return json.Marshal(v) }

func decodeJSON(b []byte, v any) error { return json.Unmarshal(b, v) }
