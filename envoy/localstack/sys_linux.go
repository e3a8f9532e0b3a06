package localstack

import "syscall"

// sysProcAttr puts a child in its own process group and has the kernel kill
// it when the process that started it dies, so that no Envoy outlives a
// killed test binary.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
