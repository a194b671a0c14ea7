// Package ext is the extension point Traefik embeds in its dynamic HTTP configuration
// (pkg/config/dynamic: HTTPConfiguration and Router embed ext.HTTP and ext.Router). The open
// source build carries no extension, so both are empty: nothing is added to the configuration.
package ext

// HTTP is embedded in Traefik's HTTPConfiguration; no extra fields.
type HTTP struct{}

// Router is embedded in Traefik's Router; no extra fields.
type Router struct{}
