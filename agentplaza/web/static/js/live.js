// An EventSource that comes back by itself: the browser retries some failures on its own,
// but not a closed stream after a server restart (readyState CLOSED), so reopen with backoff.
export function follow(url, { onData, onState }) {
  let delay = 1000;
  let source = null;
  let timer = null;
  const open = () => {
    onState("connecting");
    source = new EventSource(url);
    source.onopen = () => {
      delay = 1000;
      onState("live");
    };
    source.onmessage = (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      onData(data);
    };
    source.onerror = () => {
      onState("offline");
      source.close();
      clearTimeout(timer);
      timer = setTimeout(open, delay);
      delay = Math.min(delay * 2, 15000);
    };
  };
  open();
  return () => {
    clearTimeout(timer);
    if (source) source.close();
  };
}
