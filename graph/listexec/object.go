package listexec

import (
	"io"

	"github.com/99designs/gqlgen/graphql"
)

// Object is a resolved object's fields, marshalled as graphql.FieldSet marshals them but
// without its cost per object: a map of the aliases written (to skip a repeated one), a copy
// of each CollectedField, and the quoting of each alias. An alias is a GraphQL name
// ([_A-Za-z][_0-9A-Za-z]*, the parser sees to it), so it is written as it is; a repeated
// alias (CollectFields keeps fields of one alias apart when their types differ) is still
// written once, the first, found by a scan of the aliases before it. On a page of 50
// contacts with their lists (about 1,150 objects) FieldSet's marshalling was a quarter of
// the request's CPU.
type Object struct {
	fields []graphql.CollectedField
	values []graphql.Marshaler
}

// NewObject is out's values under their fields, ready to marshal; out must be complete
// (dispatched).
func NewObject(fields []graphql.CollectedField, out *graphql.FieldSet) *Object {
	return &Object{fields: fields, values: out.Values}
}

// MarshalGQL writes the object as JSON.
func (o *Object) MarshalGQL(w io.Writer) {
	buf := make([]byte, 0, 64)
	buf = append(buf, '{')
	written := 0
	for i := range o.fields {
		alias := o.fields[i].Alias
		if repeated(o.fields[:i], alias) {
			continue
		}
		if written > 0 {
			buf = append(buf, ',')
		}
		buf = append(append(append(buf, '"'), alias...), '"', ':')
		w.Write(buf)
		buf = buf[:0]
		o.values[i].MarshalGQL(w)
		written++
	}
	w.Write(append(buf, '}'))
}

// repeated reports whether one of fields has alias.
func repeated(fields []graphql.CollectedField, alias string) bool {
	for i := range fields {
		if fields[i].Alias == alias {
			return true
		}
	}
	return false
}
