"""GA/T 1400 (公安视频图像信息应用系统, the "视图库" interface): the pure core.

Object models (MotorVehicle, Face, SubImageInfo, ResponseStatus), ID composition, the
standard's time format, conversions from our ``MatchEvent`` and parsing of what smart
cameras push, plus the server side of HTTP digest authentication. Nothing here opens
a socket, a file or reads the clock: the store's client (edge/store/viid_push.py) and
the gateway's receiver (edge/gateway/viid_source.py) do the I/O. docs/viid.md says
which names and codes we chose where public implementations disagree, and why.
"""
