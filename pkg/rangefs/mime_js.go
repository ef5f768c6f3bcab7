package rangefs

// typeByExtension guesses nothing in the browser build: a Server never runs in a page (it
// serves a daemon's files), and the mime package's tables would only add to the wasm.
func typeByExtension(string) string { return "" }
