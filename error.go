package rubrica

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Error codes, one to one with the GraphQL `extensions.code` of API.md.
const (
	EUNAUTHENTICATED = "UNAUTHENTICATED"
	EFORBIDDEN       = "FORBIDDEN"
	ENOTFOUND        = "NOT_FOUND"
	EINVALID         = "BAD_USER_INPUT"
	ECONFLICT        = "CONFLICT"
	ELIMIT           = "LIMIT_EXCEEDED"
	EINTERNAL        = "INTERNAL"
)

// Error is an error a client may see: a code, a human message, and for input errors the
// input field it is about (reported as `extensions.field`).
type Error struct {
	Code    string
	Message string
	Field   string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("rubrica error: code=%s field=%s message=%s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("rubrica error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidField returns a BAD_USER_INPUT error about one input field.
func InvalidField(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns a NOT_FOUND error about the object an input field names.
func NotFound(field, what string) *Error {
	return &Error{Code: ENOTFOUND, Field: field, Message: what + " not found."}
}

// ErrorCode returns the code of err: the code of the first *Error in its chain,
// INTERNAL for any other error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message a client may see: that of the first *Error in the chain,
// or "Internal error." for any other error.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorField returns the input field an error is about, if any.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrorMessageOrText returns the message of a rubrica error (with its field), or the error's
// text: what a command line shows its user.
func ErrorMessageOrText(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Field != "" {
			return e.Field + ": " + e.Message
		}
		return e.Message
	}
	return err.Error()
}

// maxQuoted is how much of a refused value an error message quotes, in characters.
const maxQuoted = 40

// Quoted quotes a refused value for an error message, shortened to maxQuoted characters, so
// that no message grows with the input.
func Quoted(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	r := []rune(s)
	return strconv.Quote(string(r[:maxQuoted])) + "…"
}
