# Kernel TCP scenarios for trace's tests, run inside a network namespace
# while tcpdump captures loopback. Usage: scenarios.py ADDR BASEPORT
# Prints "name clientport serverport" for each scenario.
import socket, sys, threading, time

addr, base = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET

def listener(port):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(4)
    return s

def pair(port):
    l = listener(port)
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.connect((addr, port))
    s, _ = l.accept()
    l.close()
    for x in (c, s):
        x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c, s

def drain(s):
    n = 0
    while True:
        b = s.recv(65536)
        if not b:
            return n
        n += len(b)

def report(name, c):
    print(name, c.getsockname()[1], base_port[name], flush=True)

base_port = {}

# normal: request, response, the client closes first.
p = base; base_port["normal"] = p
c, s = pair(p)
c.sendall(b"GET / HTTP/1.0\r\n\r\n")
s.recv(100)
s.sendall(b"HTTP/1.0 200 OK\r\n\r\nhello")
c.recv(100)
report("normal", c)
c.close()
drain(s)
time.sleep(0.05)
s.close()
time.sleep(0.05)

# halfclose: the client shuts down writing; the server keeps sending for 0.3 s.
p = base + 1; base_port["halfclose"] = p
c, s = pair(p)
c.sendall(b"upload")
c.shutdown(socket.SHUT_WR)
drain(s)
for i in range(4):
    s.sendall(b"x" * 1000)
    time.sleep(0.1)
s.close()
drain(c)
report("halfclose", c)
c.close()
time.sleep(0.05)

# rst: the server closes with unread data: Linux sends RST, not FIN.
p = base + 2; base_port["rst"] = p
c, s = pair(p)
c.sendall(b"unread data")
time.sleep(0.05)
s.close()
time.sleep(0.05)
report("rst", c)
try:
    c.recv(100)
except OSError:
    pass
c.close()
time.sleep(0.05)

# simultaneous: both ends shut down writing at once.
p = base + 3; base_port["simultaneous"] = p
c, s = pair(p)
bar = threading.Barrier(2)
def shut(x):
    bar.wait()
    x.shutdown(socket.SHUT_WR)
ts = [threading.Thread(target=shut, args=(x,)) for x in (c, s)]
for t in ts: t.start()
for t in ts: t.join()
drain(c); drain(s)
report("simultaneous", c)
c.close(); s.close()
time.sleep(0.2)
