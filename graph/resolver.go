package graph

import "rubrica"

// Resolver is the root resolver: it holds the domain services.
type Resolver struct {
	Services rubrica.Services
}
