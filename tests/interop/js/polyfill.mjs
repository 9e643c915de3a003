// js-libp2p 2.x calls Promise.withResolvers (ES2024), which Node 22 has and Node 20 lacks.
// Every script imports this module first, so it runs before any libp2p module loads.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve
    let reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
