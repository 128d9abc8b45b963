export { emailDelivery } from './delivery';
