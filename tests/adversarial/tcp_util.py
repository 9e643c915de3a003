"""Helpers shared by the Python attack clients in tests/adversarial/."""
import socket


def connect_nonblocking(host, port, src=None):
    """A non-blocking TCP socket connecting to host:port (from address src if given), or
    None when the connect failed at once."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    if src:
        s.bind((src, 0))
    try:
        s.connect((host, port))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        return None
    return s
