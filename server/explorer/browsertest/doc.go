// Package browsertest checks the explorer in headless Chromium against a real server (its
// test only; see explorer_browser_test.go).
package browsertest
