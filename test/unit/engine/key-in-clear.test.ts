import { describe, expect, it } from 'vitest';
import { keyInClearWarning } from '../../../engine/config.js';

describe('keyInClearWarning', () => {
  it('warns when a key goes over plain HTTP to another host', () => {
    expect(keyInClearWarning('http://gpu-box.internal:8000', 'sk-1')).toMatch(
      /plain HTTP to gpu-box\.internal:8000/,
    );
    expect(keyInClearWarning('http://10.0.0.7/v1', 'sk-1')).toMatch(/10\.0\.0\.7/);
  });

  it('is silent over HTTPS, to loopback, without a key, or for a URL it cannot parse', () => {
    expect(keyInClearWarning('https://api.example.com/v1', 'sk-1')).toBeUndefined();
    for (const url of ['http://127.0.0.1:18123', 'http://localhost:8000', 'http://[::1]:8000']) {
      expect(keyInClearWarning(url, 'sk-1'), url).toBeUndefined();
    }
    expect(keyInClearWarning('http://gpu-box.internal:8000', undefined)).toBeUndefined();
    expect(keyInClearWarning('http://gpu-box.internal:8000', '')).toBeUndefined();
    expect(keyInClearWarning('not a url', 'sk-1')).toBeUndefined();
  });
});
