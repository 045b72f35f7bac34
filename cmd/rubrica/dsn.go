package main

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// masked replaces each secret of a connection string in the logs.
const masked = "xxxxx"

// hiddenDSN is logged instead of a connection string that cannot be read: it may hold a
// password anywhere.
const hiddenDSN = "(unreadable connection string: hidden)"

var (
	urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)
	// assignment is any secret=value left in a string, quoted or not (a second net).
	assignment = regexp.MustCompile(`(?i)(pass[^\s=&'"]*|sslkey)(\s*=\s*)('(?:\\.|[^'\\])*'?|[^\s&']*)`)
	// paramName is what a URL query parameter's name looks like.
	paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// maskDSN returns a PostgreSQL connection string fit for a log: every value that may be a
// secret (the password, any parameter whose name holds "pass", sslkey) is xxxxx. It reads
// both forms lib/pq reads: a URL (the user info's password, even with unescaped '@', ':' or
// '/', and query parameters, whatever their case or escaping) and key=value pairs (quoted,
// with escapes, spaces around '='). A key=value string lib/pq could not read is hidden whole.
func maskDSN(dsn string) string {
	var out string
	if urlScheme.MatchString(dsn) {
		out = maskURL(dsn)
	} else {
		var ok bool
		if out, ok = maskKeywords(dsn); !ok {
			return hiddenDSN
		}
	}
	return assignment.ReplaceAllString(out, "${1}${2}"+masked)
}

// maskURL masks the password of a URL's user info and its secret query parameters. The user
// info ends at the last '@' of the string, so that a password with an unescaped '@' or '/' is
// masked whole: a later '@' (in the query) masks more than needed, never less.
func maskURL(s string) string {
	i := strings.Index(s, "://") + len("://")
	head, rest := s[:i], s[i:]
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if user, _, ok := strings.Cut(rest[:at], ":"); ok {
			rest = user + ":" + masked + rest[at:]
		}
	}
	if path, query, ok := strings.Cut(rest, "?"); ok {
		rest = path + "?" + maskQuery(query)
	}
	return head + rest
}

// maskQuery masks the values of secret parameters of a URL query. After a secret value, the
// parts up to the next one that looks like a parameter (name=...) are taken for pieces of the
// secret, cut by an unescaped '&'.
func maskQuery(q string) string {
	parts := strings.Split(q, "&")
	out := make([]string, 0, len(parts))
	inSecret := false
	for _, p := range parts {
		key, _, hasValue := strings.Cut(p, "=")
		if inSecret && !(hasValue && paramName.MatchString(key)) {
			continue
		}
		inSecret = false
		if name, err := url.QueryUnescape(key); hasValue && (err != nil || secretKey(name)) {
			out = append(out, key+"="+masked)
			inSecret = true
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, "&")
}

// secretKey reports whether a connection parameter may hold a secret.
func secretKey(key string) bool {
	key = strings.ToLower(key)
	return strings.Contains(key, "pass") || key == "sslkey"
}

// maskKeywords masks the secret values of a key=value connection string, read as lib/pq
// reads it (its fromDSN, after libpq's conninfo_parse): keys end at a space or '=', spaces may
// surround '=', a value is 'quoted' or ends at a space, and a backslash escapes the next
// character. It reports false for a string lib/pq refuses.
func maskKeywords(s string) (string, bool) {
	rs := []rune(s)
	n, i := len(rs), 0
	skipSpaces := func() {
		for i < n && unicode.IsSpace(rs[i]) {
			i++
		}
	}
	var pairs []string
	for {
		skipSpaces()
		if i == n {
			return strings.Join(pairs, " "), true
		}
		k := i
		for i < n && !unicode.IsSpace(rs[i]) && rs[i] != '=' {
			i++
		}
		key := string(rs[k:i])
		skipSpaces()
		if i == n || rs[i] != '=' {
			return "", false
		}
		i++
		skipSpaces()
		v := i
		if i < n && rs[i] == '\'' {
			for i++; ; {
				if i == n {
					return "", false // unterminated quote
				}
				r := rs[i]
				i++
				if r == '\'' {
					break
				}
				if r == '\\' && i < n {
					i++
				}
			}
		} else {
			for i < n && !unicode.IsSpace(rs[i]) {
				if rs[i] == '\\' {
					if i++; i == n {
						return "", false // a backslash escaping nothing
					}
				}
				i++
			}
		}
		value := string(rs[v:i])
		if secretKey(key) {
			value = masked
		}
		pairs = append(pairs, key+"="+value)
	}
}
