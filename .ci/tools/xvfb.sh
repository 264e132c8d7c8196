# Sourced by the .ci scripts that drive the desktop program. `start_xvfb WxHxDEPTH` starts Xvfb
# on a display that no other X server holds (Xvfb picks the number: -displayfd) and returns once
# the server accepts clients, with DISPLAY exported and the server's pid in $xvfb. A fixed
# display number and a fixed sleep failed on a loaded machine (XOpenDisplayFailed).
start_xvfb() {
    local ready
    ready=$(mktemp)
    Xvfb -displayfd 3 -nolisten tcp -screen 0 "$1" 3>"$ready" >/dev/null 2>&1 &
    xvfb=$!
    for _ in $(seq 300); do
        [ -s "$ready" ] && break
        if ! kill -0 "$xvfb" 2>/dev/null; then
            echo "Xvfb exited before it accepted clients" >&2
            return 1
        fi
        sleep 0.1
    done
    if [ ! -s "$ready" ]; then
        echo "Xvfb did not accept clients within 30 s" >&2
        return 1
    fi
    DISPLAY=":$(head -n1 "$ready")"
    export DISPLAY
    rm -f "$ready"
}
