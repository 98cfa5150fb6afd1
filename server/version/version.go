// Package version carries the build's version string, set by the linker
// (-X github.com/yardhq/yard/server/version.Version=...).
package version

// Version is the release or git description of this build.
var Version = "dev"
