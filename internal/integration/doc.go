// Package integration tests the layers together, as the program stacks
// them: the reliable transport over secure conns over (impaired, flooded)
// UDP. Each layer's own tests stay with it and import only what is below
// it; what needs two layers at once is here. It has no code of its own.
package integration
