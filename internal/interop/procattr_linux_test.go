//go:build linux

package interop

import (
	"os/exec"
	"syscall"
)

// setPdeathsig makes the kernel kill the tool if the test binary dies
// without running its cleanups.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
