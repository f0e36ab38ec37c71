// Package archtest holds the architecture test: which of udpchat's packages
// may import which. It has no code of its own; the rules and the test that
// holds the tree to them are in archtest_test.go.
package archtest
