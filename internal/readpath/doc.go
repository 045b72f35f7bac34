// Package readpath holds the read-path benchmark (readpath_test.go): the three requests
// issue 10 measures Rubrica by, through the real HTTP server on a workspace of 100,000
// contacts, at concurrency 1 and 16. It has no code of its own.
//
//	make bench BENCH=ReadPath PKG=./internal/readpath/
package readpath
