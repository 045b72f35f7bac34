package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"rubrica"
)

// httpErrors writes every error the server answers outside the GraphQL executor (whose
// errors go through graph.PresentError): refused authentications, refused bodies, export
// errors, refused websocket origins, refused SSE streams. The body is shaped like a GraphQL
// response with one request error and no data: {"errors": [{"message", "extensions": {"code",
// "field", "limit"}}]}. An INTERNAL error is logged with the request's context (so whatever
// the logger's handler takes from it, such as a request id, is on the line) and reaches the
// client as "Internal error." only.
type httpErrors struct{ logger *slog.Logger }

// statusOfCode is the HTTP status of an error code when the caller names none.
var statusOfCode = map[string]int{
	rubrica.EUNAUTHENTICATED: http.StatusUnauthorized,
	rubrica.EFORBIDDEN:       http.StatusForbidden,
	rubrica.ENOTFOUND:        http.StatusNotFound,
	rubrica.EINVALID:         http.StatusBadRequest,
	rubrica.ECONFLICT:        http.StatusConflict,
	rubrica.ELIMIT:           http.StatusBadRequest,
}

// write answers r with err and status (0: the status of err's code, 500 for INTERNAL).
func (h httpErrors) write(w http.ResponseWriter, r *http.Request, status int, err error) {
	code := rubrica.ErrorCode(err)
	if status == 0 {
		status = statusOfCode[code]
	}
	if status == 0 || code == rubrica.EINTERNAL {
		status = http.StatusInternalServerError
	}
	ext := map[string]any{"code": code}
	message := rubrica.ErrorMessage(err)
	if code == rubrica.EINTERNAL {
		h.logger.ErrorContext(r.Context(), "internal error", "err", err, "method", r.Method, "path", r.URL.Path)
		message = "Internal error."
	} else {
		if f := rubrica.ErrorField(err); f != "" {
			ext["field"] = f
		}
		if limit := errorLimit(err); limit != "" {
			ext["limit"] = limit
		}
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	if status == http.StatusUnauthorized {
		hd.Set("WWW-Authenticate", `Bearer realm="rubrica"`)
	}
	if secs := errorRetryAfter(err); secs > 0 {
		hd.Set("Retry-After", strconv.Itoa(secs))
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": message, "extensions": ext}}})
}
