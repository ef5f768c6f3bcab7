//go:build !js

package rangefs

import "log/slog"

// serverLogger is the type of ServerOptions.Logger.
type serverLogger = *slog.Logger

func discardLogger() serverLogger { return slog.New(slog.DiscardHandler) }
