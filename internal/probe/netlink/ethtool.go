package netlink

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// socketIn opens an AF_INET datagram socket inside ns: ethtool ioctls act on
// the namespace of the socket they are issued on.
func socketIn(ns netns.NsHandle) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return -1, err
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		return -1, err
	}
	fd, serr := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err := netns.Set(orig); err != nil {
		// The thread is in the wrong namespace: let the runtime drop it.
		runtime.LockOSThread()
		return -1, fmt.Errorf("restore namespace: %w", err)
	}
	return fd, serr
}

// ethtoolCmd is the kernel's struct ethtool_cmd (legacy ETHTOOL_GSET), which
// golang.org/x/sys does not wrap.
type ethtoolCmd struct {
	Cmd           uint32
	Supported     uint32
	Advertising   uint32
	Speed         uint16
	Duplex        uint8
	Port          uint8
	PhyAddress    uint8
	Transceiver   uint8
	Autoneg       uint8
	MdioSupport   uint8
	Maxtxpkt      uint32
	Maxrxpkt      uint32
	SpeedHi       uint16
	EthTpMdix     uint8
	EthTpMdixCtrl uint8
	LpAdvertising uint32
	Reserved      [2]uint32
}

type ifreqData struct {
	Name [unix.IFNAMSIZ]byte
	Data uintptr
}

const ethtoolGSET = 0x00000001

// ethtool returns the interface's driver and its speed in Mb/s (0 if unknown).
func (p *Probe) ethtool(name string) (driver string, speed int64) {
	if info, err := unix.IoctlGetEthtoolDrvinfo(p.sock, name); err == nil {
		driver = unix.ByteSliceToString(info.Driver[:])
	}
	cmd := ethtoolCmd{Cmd: ethtoolGSET}
	var req ifreqData
	copy(req.Name[:], name)
	req.Data = uintptr(unsafe.Pointer(&cmd))
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(p.sock), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&req)))
	runtime.KeepAlive(&cmd)
	if errno == 0 {
		s := uint32(cmd.SpeedHi)<<16 | uint32(cmd.Speed)
		if s != 0 && s != 0xffff && s != 0xffffffff {
			speed = int64(s)
		}
	}
	return driver, speed
}
