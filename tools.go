//go:build tools

package rubrica

import _ "github.com/99designs/gqlgen"
