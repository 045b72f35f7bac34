// Package graph is the GraphQL adapter: thin resolvers over the rubrica services,
// per-request dataloaders, global ids and the error presenter.
package graph
