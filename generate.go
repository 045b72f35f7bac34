package rubrica

// gqlgen rebuilds graph/generated and graph/model from schema/*.graphqls (see gqlgen.yml),
// through graph/internal/gen, which marshals lists of plain data without a goroutine each.
//go:generate go run ./graph/internal/gen
