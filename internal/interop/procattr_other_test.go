//go:build !linux

package interop

import "os/exec"

func setPdeathsig(*exec.Cmd) {}
