// Package version holds the build's version, set with -ldflags.
package version

// Version is overridden at link time: -X github.com/skydive-ng/skydive/internal/version.Version=...
var Version = "0.1.0-dev"
