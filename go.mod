module github.com/synfin/synfin

go 1.26.8

require (
	github.com/gopacket/gopacket v1.7.7
	pgregory.net/rapid v1.3.0
)
