// Package config loads, defaults, validates and summarises the Callwerk
// configuration file.
//
// The file is YAML. [Load] reads it strictly: an unknown key, a value of the
// wrong shape or an unparsable duration is an error that names the key by its
// path (queues[0].ring_timeout) and line. Keys that are absent get the defaults
// from the Default* constants; values written in the file are never replaced.
// [Config.Validate] then reports every remaining problem at once as
// [errors.Join] of [*FieldError].
//
// The operator reference for every key is docs/config.md.
package config
