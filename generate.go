package rubrica

// gqlgen rebuilds graph/generated and graph/model from schema/*.graphqls (see gqlgen.yml).
//go:generate go run github.com/99designs/gqlgen generate
