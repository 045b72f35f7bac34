package server

import (
	"net/http"
	"strings"

	"rubrica"
)

// bearerToken returns the token of an `Authorization: Bearer <token>` value.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// authenticate puts the actor of the request's bearer token into its context. A request with
// no token goes on without an actor: it may introspect the schema (the explorer loads its docs
// that way) but every field with data answers UNAUTHENTICATED. A token that is not valid is
// refused with 401, and with 429 once its address failed too often (see failureLimiter).
func authenticate(g *authGuard, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if strings.TrimSpace(header) == "" || strings.EqualFold(strings.TrimSpace(header), "Bearer") {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := bearerToken(header)
		if !ok {
			g.refuse(w, r, rubrica.Errorf(rubrica.EUNAUTHENTICATED, "Send the token as Authorization: Bearer <token>."))
			return
		}
		actor, err := g.auth.Authenticate(r.Context(), token)
		if err != nil {
			g.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(rubrica.NewContext(r.Context(), actor)))
	})
}

// refuse answers a failed authentication: 401, or 429 when the client's address is over its
// limit of failures; an internal error is 500 (and logged) and no failure of the client.
func (g *authGuard) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if rubrica.ErrorCode(err) == rubrica.EINTERNAL {
		g.errs.write(w, r, http.StatusInternalServerError, err)
		return
	}
	if retry := g.limiter.fail(clientAddr(r)); retry > 0 {
		g.errs.write(w, r, http.StatusTooManyRequests, authLimited(retry))
		return
	}
	g.errs.write(w, r, http.StatusUnauthorized, err)
}
