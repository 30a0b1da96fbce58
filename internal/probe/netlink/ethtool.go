package netlink

import (
	"encoding/binary"
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

// ifreqData is the kernel's struct ifreq with ifr_data set: the name, the
// pointer to the command, padded to the size of the union.
type ifreqData struct {
	Name [unix.IFNAMSIZ]byte
	Data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

const (
	ethtoolGSET    = 0x00000001
	ethSSFeatures  = 4  // ETH_SS_FEATURES, the string set of the feature names
	ethGStringLen  = 32 // ETH_GSTRING_LEN
	maxFeatureBits = 1024
)

// ethtoolIoctl issues SIOCETHTOOL for the interface name with the command
// buffer at data (its first 32 bits are the command).
func (p *Probe) ethtoolIoctl(name string, data unsafe.Pointer) error {
	var req ifreqData
	copy(req.Name[:unix.IFNAMSIZ-1], name)
	req.Data = data
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(p.sock), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&req)))
	runtime.KeepAlive(&req)
	if errno != 0 {
		return errno
	}
	return nil
}

// ethtool returns the interface's driver and its speed in Mb/s (0 if unknown).
func (p *Probe) ethtool(name string) (driver string, speed int64) {
	if info, err := unix.IoctlGetEthtoolDrvinfo(p.sock, name); err == nil {
		driver = unix.ByteSliceToString(info.Driver[:])
	}
	cmd := ethtoolCmd{Cmd: ethtoolGSET}
	if p.ethtoolIoctl(name, unsafe.Pointer(&cmd)) == nil {
		s := uint32(cmd.SpeedHi)<<16 | uint32(cmd.Speed)
		if s != 0 && s != 0xffff && s != 0xffffffff {
			speed = int64(s)
		}
	}
	return driver, speed
}

// featureNames reads the kernel's names of the netdev features (the string
// set ETH_SS_FEATURES, the same for every interface: it is read once).
func (p *Probe) featureNames(name string) ([]string, error) {
	if p.featNames != nil {
		return p.featNames, nil
	}
	// struct ethtool_sset_info: cmd, reserved, sset_mask (u64), data[1].
	var info struct {
		Cmd      uint32
		Reserved uint32
		Mask     uint64
		Count    uint32
		_        uint32
	}
	info.Cmd = unix.ETHTOOL_GSSET_INFO
	info.Mask = 1 << ethSSFeatures
	if err := p.ethtoolIoctl(name, unsafe.Pointer(&info)); err != nil {
		return nil, fmt.Errorf("ETHTOOL_GSSET_INFO: %w", err)
	}
	if info.Mask&(1<<ethSSFeatures) == 0 || info.Count == 0 || info.Count > maxFeatureBits {
		return nil, fmt.Errorf("ETHTOOL_GSSET_INFO: no feature names (%d)", info.Count)
	}
	n := int(info.Count)
	// struct ethtool_gstrings: cmd, string_set, len, data[len * ETH_GSTRING_LEN].
	buf := make([]byte, 12+n*ethGStringLen)
	binary.NativeEndian.PutUint32(buf[0:], unix.ETHTOOL_GSTRINGS)
	binary.NativeEndian.PutUint32(buf[4:], ethSSFeatures)
	binary.NativeEndian.PutUint32(buf[8:], uint32(n))
	if err := p.ethtoolIoctl(name, unsafe.Pointer(&buf[0])); err != nil {
		return nil, fmt.Errorf("ETHTOOL_GSTRINGS: %w", err)
	}
	if got := int(binary.NativeEndian.Uint32(buf[8:])); got < n {
		n = got
	}
	names := make([]string, n)
	for i := range names {
		names[i] = unix.ByteSliceToString(buf[12+i*ethGStringLen : 12+(i+1)*ethGStringLen])
	}
	p.featNames = names
	return names, nil
}

// features returns the interface's ethtool features and whether each is
// active, by the kernel's names ("highdma", "tx-checksum-ip-generic" ...),
// as `ethtool -k` shows them and as the original's Features.
func (p *Probe) features(name string) (map[string]bool, error) {
	names, err := p.featureNames(name)
	if err != nil {
		return nil, err
	}
	blocks := (len(names) + 31) / 32
	// struct ethtool_gfeatures: cmd, size, then per block of 32 features
	// available, requested, active, never_changed.
	buf := make([]uint32, 2+4*blocks)
	buf[0] = unix.ETHTOOL_GFEATURES
	buf[1] = uint32(blocks)
	if err := p.ethtoolIoctl(name, unsafe.Pointer(&buf[0])); err != nil {
		return nil, fmt.Errorf("ETHTOOL_GFEATURES: %w", err)
	}
	out := make(map[string]bool, len(names))
	for i, n := range names {
		if n == "" {
			continue
		}
		active := buf[2+4*(i/32)+2]
		out[n] = active&(1<<(i%32)) != 0
	}
	return out, nil
}
