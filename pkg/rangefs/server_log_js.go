package rangefs

// serverLogger is the type of ServerOptions.Logger in the browser build: a Server never runs
// in a page, and importing log/slog (with log, which its default handler pulls in) would add
// some 40 kB of code to the wasm. It drops everything.
type serverLogger = *nopLogger

// nopLogger has the methods of *slog.Logger that the server calls.
type nopLogger struct{}

// Debug drops the message.
func (*nopLogger) Debug(string, ...any) {}

func discardLogger() serverLogger { return nil }
